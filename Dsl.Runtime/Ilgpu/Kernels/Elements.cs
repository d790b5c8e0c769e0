using ILGPU;

namespace Dsl.Runtime.Ilgpu.Kernels;

/// <summary>A kernel computing element i of its output on its own (one output element, one optimizer element): a struct,
/// so that ILGPU compiles its body inline into <see cref="Elements.Each"/>.</summary>
public interface IElementKernel<TArgs> where TArgs : struct
{
    void Run(int i, TArgs a);
}

public static class Elements
{
    /// <summary>Runs elements i, i + stride, ... below count: a grid-stride loop, so a launch needs no more threads than
    /// the device runs at once (ILGPU's CPU accelerator pays per thread, not per element).</summary>
    public static void Each<TKernel, TArgs>(Index1D i, TArgs a, int count, int stride)
        where TKernel : struct, IElementKernel<TArgs> where TArgs : struct
    {
        for (int e = i; e < count; e += stride) default(TKernel).Run(e, a);
    }
}
