using System.Runtime.InteropServices;

namespace Dsl.Runtime.Cpu;

/// <summary>64-byte aligned native memory: it never moves, so kernels take raw pointers without pinning.</summary>
public sealed unsafe class CpuBuffer : IDeviceBuffer
{
    readonly CpuDevice owner;
    float* data;

    internal CpuBuffer(CpuDevice owner, long floats, string name)
    {
        this.owner = owner;
        Name = name;
        Floats = floats;
        var bytes = (nuint)Math.Max(1, floats) * sizeof(float);
        try { data = (float*)NativeMemory.AlignedAlloc(bytes, 64); }
        catch (OutOfMemoryException e) { throw new DeviceException($"out of host memory allocating {name} ({bytes / (1 << 20)} MiB)", e); }
        NativeMemory.Clear(data, bytes);
    }

    public string Name { get; }
    public long Floats { get; }

    /// <summary>The memory, for the CPU device's kernels only: every other writer goes through <see cref="Upload"/>, so
    /// that <see cref="Version"/> sees it.</summary>
    internal float* Pointer => data != null ? data : throw new ObjectDisposedException(Name);

    /// <summary>Moves on every write (an upload, an optimiser step): a runner that keeps a prepared copy of a weight
    /// (packed or transformed) prepares it again when this is not the version it prepared from.</summary>
    internal long Version { get; private set; }

    /// <summary>Says that a kernel wrote the buffer through <see cref="Pointer"/>.</summary>
    internal void Written() => Version++;

    public void Upload(ReadOnlySpan<float> source, long offset = 0)
    {
        source.CopyTo(new Span<float>(Pointer + offset, source.Length));
        Written();
    }
    public void Download(Span<float> destination, long offset = 0) => new ReadOnlySpan<float>(Pointer + offset, destination.Length).CopyTo(destination);

    public void Dispose()
    {
        if (data == null) return;
        NativeMemory.AlignedFree(data);
        data = null;
        owner.Released(Floats);
    }
}
