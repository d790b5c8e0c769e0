using System.Reflection;
using ILGPU;
using ILGPU.Runtime;
using Dsl.Runtime.Ilgpu.Kernels;

namespace Dsl.Runtime.Ilgpu;

/// <summary>One launch of an ILGPU kernel: the kernel method (its activation chosen), and its arguments bound to a step's
/// memory. The step runner loads and runs it; `dsl kernels --target ilgpu:sm_XX` compiles the same method to PTX.</summary>
abstract class IlgpuLaunch(string name, Delegate kernel)
{
    public string Name => name;
    public MethodInfo Method => kernel.Method;

    /// <summary>Whether the kernel is explicitly grouped (one group per channel, a group reduction inside); else ILGPU
    /// groups its one thread per element.</summary>
    public abstract bool Grouped { get; }

    /// <summary>Compiles the kernel for <paramref name="accelerator"/>; the result queues it with the arguments of a step.
    /// <paramref name="groupSize"/> is the size of an explicit group, <paramref name="threads"/> the most threads a launch of
    /// one thread per element starts (each then takes every threads-th element).</summary>
    public abstract Action<long> Load(Accelerator accelerator, int groupSize, int threads);
}

/// <summary><paramref name="count"/> elements, each computed by the element kernel <paramref name="kernel"/> (an
/// <see cref="IElementKernel{TArgs}"/> struct) in <see cref="Elements.Each"/>'s grid-stride loop.</summary>
sealed class PerElement<TArgs>(string name, Type kernel, long count, Func<long, TArgs> args)
    : IlgpuLaunch(name, Loop(kernel)) where TArgs : struct
{
    static Action<Index1D, TArgs, int, int> Loop(Type kernel) =>
        typeof(Elements).GetMethod(nameof(Elements.Each))!.MakeGenericMethod(kernel, typeof(TArgs)).CreateDelegate<Action<Index1D, TArgs, int, int>>();

    public override bool Grouped => false;

    public override Action<long> Load(Accelerator accelerator, int groupSize, int threads)
    {
        var run = accelerator.LoadAutoGroupedStreamKernel(Loop(kernel));
        int launched = (int)Math.Min(count, threads);
        return step =>
        {
            if (count > 0) run(launched, args(step), (int)count, launched);
        };
    }
}

/// <summary><paramref name="groups"/> groups of the device's group size.</summary>
sealed class PerGroup<TArgs>(string name, Action<TArgs> kernel, int groups, Func<long, TArgs> args)
    : IlgpuLaunch(name, kernel) where TArgs : struct
{
    public override bool Grouped => true;

    public override Action<long> Load(Accelerator accelerator, int groupSize, int threads)
    {
        var run = accelerator.LoadStreamKernel(kernel);
        return step =>
        {
            if (groups > 0) run(new KernelConfig(groups, groupSize), args(step));
        };
    }
}
