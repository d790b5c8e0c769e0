namespace Dsl.Runtime.OpenCl;

/// <summary>A buffer in an OpenCL context; transfers are blocking, so host memory is free again on return.</summary>
public sealed unsafe class OpenClBuffer : IDeviceBuffer
{
    readonly OpenClDevice owner;
    nint handle;

    internal OpenClBuffer(OpenClDevice owner, long floats, string name)
    {
        this.owner = owner;
        Name = name;
        Floats = floats;
        // A zero-sized buffer is invalid in OpenCL; an empty tensor still gets one float.
        var bytes = (nuint)Math.Max(1, floats) * sizeof(float);
        int error;
        handle = Native.clCreateBuffer(owner.Context, Native.MemReadWrite, bytes, null, &error);
        ClError.Check(error, $"allocating {name} ({bytes >> 20} MiB)");
        float zero = 0f;
        ClError.Check(Native.clEnqueueFillBuffer(owner.Queue, handle, &zero, sizeof(float), 0, bytes, 0, null, null), $"zeroing {name}");
    }

    public string Name { get; }
    public long Floats { get; }
    internal nint Handle => handle != 0 ? handle : throw new ObjectDisposedException(Name);

    public void Upload(ReadOnlySpan<float> source, long offset = 0)
    {
        fixed (float* p = source)
            ClError.Check(Native.clEnqueueWriteBuffer(owner.Queue, Handle, 1, (nuint)(offset * sizeof(float)), (nuint)source.Length * sizeof(float), p, 0, null, null),
                $"writing {Name}");
    }

    public void Download(Span<float> destination, long offset = 0)
    {
        fixed (float* p = destination)
            ClError.Check(Native.clEnqueueReadBuffer(owner.Queue, Handle, 1, (nuint)(offset * sizeof(float)), (nuint)destination.Length * sizeof(float), p, 0, null, null),
                $"reading {Name}");
    }

    public void Dispose()
    {
        if (handle == 0) return;
        Native.clReleaseMemObject(handle);
        handle = 0;
        owner.Released(Floats);
    }
}
