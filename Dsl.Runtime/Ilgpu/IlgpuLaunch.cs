using System.Reflection;
using ILGPU;
using ILGPU.Runtime;

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

    /// <summary>Compiles the kernel for <paramref name="accelerator"/>; the result queues it with the arguments of a step.</summary>
    public abstract Action<long> Load(Accelerator accelerator, int groupSize);
}

/// <summary>One thread per element, <paramref name="count"/> of them.</summary>
sealed class PerElement<TArgs>(string name, Action<Index1D, TArgs> kernel, long count, Func<long, TArgs> args)
    : IlgpuLaunch(name, kernel) where TArgs : struct
{
    public override bool Grouped => false;

    public override Action<long> Load(Accelerator accelerator, int groupSize)
    {
        var run = accelerator.LoadAutoGroupedStreamKernel(kernel);
        return step =>
        {
            if (count > 0) run((int)count, args(step));
        };
    }
}

/// <summary><paramref name="groups"/> groups of the device's group size.</summary>
sealed class PerGroup<TArgs>(string name, Action<TArgs> kernel, int groups, Func<long, TArgs> args)
    : IlgpuLaunch(name, kernel) where TArgs : struct
{
    public override bool Grouped => true;

    public override Action<long> Load(Accelerator accelerator, int groupSize)
    {
        var run = accelerator.LoadStreamKernel(kernel);
        return step =>
        {
            if (groups > 0) run(new KernelConfig(groups, groupSize), args(step));
        };
    }
}
