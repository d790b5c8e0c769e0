namespace Dsl.Runtime.Cuda;

/// <summary>Device memory (cuMemAlloc); transfers go through the device's stream and wait for it, so they see every
/// launch queued before them and host memory is free again on return.</summary>
public sealed unsafe class CudaBuffer : IDeviceBuffer
{
    readonly CudaDevice owner;
    ulong pointer;

    /// <summary><paramref name="outOfMemory"/> turns the free bytes left into the message when the allocation does not fit.</summary>
    internal CudaBuffer(CudaDevice owner, long floats, string name, Func<long, string>? outOfMemory)
    {
        this.owner = owner;
        Name = name;
        Floats = floats;
        // cuMemAlloc rejects zero bytes; an empty tensor still gets one float.
        var bytes = (nuint)Math.Max(1, floats) * sizeof(float);
        owner.MakeCurrent();
        ulong p;
        int status = owner.Cu.cuMemAlloc(&p, bytes);
        if (status == CuError.OutOfMemory)
        {
            long free = owner.FreeBytes();
            throw new DeviceException(outOfMemory?.Invoke(free) ??
                $"CUDA: {name} needs {DeviceMemory.Mib((long)bytes)} and {owner.Info.Name} has {DeviceMemory.Mib(free)} free; lower --batch, or use a device with more memory");
        }
        CuError.Check(status, $"allocating {name} ({DeviceMemory.Mib((long)bytes)})");
        pointer = p;
        CuError.Check(owner.Cu.cuMemsetD32Async(pointer, 0, (nuint)Math.Max(1, floats), owner.Stream), $"zeroing {name}");
    }

    public string Name { get; }
    public long Floats { get; }
    internal ulong Pointer => pointer != 0 ? pointer : throw new ObjectDisposedException(Name);

    public void Upload(ReadOnlySpan<float> source, long offset = 0)
    {
        owner.MakeCurrent();
        fixed (float* p = source)
            CuError.Check(owner.Cu.cuMemcpyHtoDAsync(Pointer + (ulong)(offset * sizeof(float)), p, (nuint)source.Length * sizeof(float), owner.Stream), $"writing {Name}");
        owner.Synchronize($"writing {Name}");
    }

    public void Download(Span<float> destination, long offset = 0)
    {
        owner.MakeCurrent();
        fixed (float* p = destination)
            CuError.Check(owner.Cu.cuMemcpyDtoHAsync(p, Pointer + (ulong)(offset * sizeof(float)), (nuint)destination.Length * sizeof(float), owner.Stream), $"reading {Name}");
        owner.Synchronize($"reading {Name}");
    }

    public void Dispose()
    {
        if (pointer == 0) return;
        owner.MakeCurrent();
        owner.Cu.cuMemFree(pointer);
        pointer = 0;
        owner.Released(Floats);
    }
}
