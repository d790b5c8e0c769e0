using System.Runtime.Intrinsics.X86;
using Dsl.Core;

namespace Dsl.Runtime.Cpu;

/// <summary>The CPU: always present. Runs each kernel kind with a vectorised, multithreaded C# implementation.</summary>
public sealed class CpuDevice : IDevice
{
    readonly DeviceMemory memory = new();

    public CpuDevice(int? threads = null)
    {
        if (threads is int t) CpuThreads.Count = t;
    }

    public string Name => $"CPU ({CpuThreads.Count} threads, {(Avx512F.IsSupported ? "AVX-512" : Fma.IsSupported ? "AVX2+FMA" : "SSE")})";
    public int LiveBuffers => memory.Buffers;
    public long LiveBytes => memory.Live;
    public long PeakBytes => memory.Peak;
    public void ResetPeak() => memory.ResetPeak();

    public IDeviceBuffer Allocate(long floats, string name)
    {
        var b = new CpuBuffer(this, floats, name);
        memory.Allocated(floats);
        return b;
    }

    internal void Released(long floats) => memory.Released(floats);

    public IStepRunner Load(Plan plan, ParameterSet parameters) => new CpuStepRunner(this, plan, parameters);

    public void Dispose() { }
}
