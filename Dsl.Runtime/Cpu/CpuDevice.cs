using System.Runtime.Intrinsics.X86;
using Dsl.Core;

namespace Dsl.Runtime.Cpu;

/// <summary>The CPU: always present. Runs each kernel kind with a vectorised, multithreaded C# implementation.</summary>
public sealed class CpuDevice : IDevice
{
    int live;
    readonly DeviceMemory memory = new();

    public CpuDevice(int? threads = null)
    {
        if (threads is int t) CpuThreads.Count = t;
    }

    public string Name => $"CPU ({CpuThreads.Count} threads, {(Avx512F.IsSupported ? "AVX-512" : Fma.IsSupported ? "AVX2+FMA" : "SSE")})";
    public int LiveBuffers => Volatile.Read(ref live);
    public long LiveBytes => memory.Live;
    public long PeakBytes => memory.Peak;
    public void ResetPeak() => memory.ResetPeak();

    public IDeviceBuffer Allocate(long floats, string name)
    {
        var b = new CpuBuffer(this, floats, name);
        Interlocked.Increment(ref live);
        memory.Allocated(DeviceMemory.BytesOf(floats));
        return b;
    }

    internal void Released(long floats)
    {
        Interlocked.Decrement(ref live);
        memory.Released(DeviceMemory.BytesOf(floats));
    }

    public IStepRunner Load(Plan plan, ParameterSet parameters) => new CpuStepRunner(this, plan, parameters);

    public void Dispose() { }
}
