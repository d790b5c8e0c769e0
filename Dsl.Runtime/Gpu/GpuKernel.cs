using Dsl.Compiler.Render;
using static Dsl.Compiler.Render.CStyle;

namespace Dsl.Runtime.Gpu;

/// <summary>A compiled kernel function as a GPU driver holds it, with the launch it belongs to: its arguments are set
/// once and it is launched again and again. Memory is a device pointer (CUDA) or a buffer handle (OpenCL).</summary>
abstract class GpuKernel(Launch launch, string what) : IDisposable
{
    protected Launch Launch => launch;
    public string Name => launch.Function;
    /// <summary>The plan kernel it runs, for messages (`ConvForward conv1+relu`).</summary>
    public string What => what;
    public Arg[] Args { get; } = launch.Args.ToArray();

    public int IndexOf(Func<Arg, bool> which) => Array.FindIndex(Args, a => which(a));

    public abstract void SetMemory(int index, nint memory);
    public abstract void SetULong(int index, ulong value);
    public abstract void SetFloat(int index, float value);

    /// <summary>Queues the kernel on the device's stream or queue.</summary>
    public abstract void Run();

    public abstract void Dispose();
}
