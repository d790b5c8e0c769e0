using System.Runtime.Intrinsics.X86;
using Dsl.Core;

namespace Dsl.Runtime.Cpu;

/// <summary>The CPU: always present. Runs each kernel kind with a vectorised, multithreaded C# implementation.</summary>
public sealed class CpuDevice : IDevice
{
    readonly DeviceMemory memory = new();
    readonly Func<long> available;

    /// <param name="threads">Threads the kernels use (<see cref="CpuThreads.Count"/>; default: one a core).</param>
    /// <param name="availableMemory">Bytes the device may still allocate (default <see cref="HostMemory.Available"/>; tests give less).</param>
    /// <param name="trainingWinograd">See <see cref="TrainingWinograd"/>.</param>
    public CpuDevice(int? threads = null, Func<long>? availableMemory = null, bool trainingWinograd = true)
    {
        if (threads is int t) CpuThreads.Count = t;
        available = availableMemory ?? HostMemory.Available;
        TrainingWinograd = trainingWinograd;
    }

    /// <summary>Whether training runs 3x3 and 5x5 stride-1 convolutions (forward and both gradients) through Winograd, as
    /// inference always does; false keeps them on im2col + GEMM, the arithmetic of the GPU devices' kernels. The
    /// cross-checks of other devices take that as their reference: Winograd's 1e-6 differences flip the odd relu or
    /// max-pool choice, and with it whole rows of a weight gradient (4% of AlexNet's conv3 gradient at batch 2).</summary>
    public bool TrainingWinograd { get; }

    /// <summary>What may still be allocated, less a margin for the rest of the process (the data set, the garbage
    /// collector's heap, the batch pipeline): a tenth of what is free, at most 512 MiB.</summary>
    internal long Room()
    {
        long free = available();
        return free - Math.Min(free / 10, 512L << 20);
    }

    public string Name => $"CPU ({CpuThreads.Count} threads, {(Avx512F.IsSupported ? "AVX-512" : Fma.IsSupported ? "AVX2+FMA" : "SSE")})";
    public int LiveBuffers => memory.Buffers;
    public long LiveBytes => memory.Live;
    public long PeakBytes => memory.Peak;
    public void ResetPeak() => memory.ResetPeak();

    /// <summary>Refuses <paramref name="what"/> when its <paramref name="bytes"/> are more than the memory left.</summary>
    internal void CheckRoom(long bytes, string what, string advice)
    {
        long room = Room();
        if (bytes > room)
            throw new DeviceException($"CPU: {what} need{(what.StartsWith("the ") ? "" : "s")} {DeviceMemory.Mib(bytes)} and {DeviceMemory.Mib(Math.Max(0, room))} of memory is available " +
                $"(after {DeviceMemory.Mib(LiveBytes)} already allocated); {advice}");
    }

    public IDeviceBuffer Allocate(long floats, string name)
    {
        // Buffers are zeroed, so each one's pages are the process's as soon as it exists: what is left is asked each time.
        CheckRoom(DeviceMemory.BytesOf(floats), name, "the network's parameters do not fit in this machine's memory");
        var b = new CpuBuffer(this, floats, name);
        memory.Allocated(floats);
        return b;
    }

    internal void Released(long floats) => memory.Released(floats);

    public IStepRunner Load(Plan plan, ParameterSet parameters) => new CpuStepRunner(this, plan, parameters);

    public void Dispose() { }
}
