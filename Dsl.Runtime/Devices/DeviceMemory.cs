namespace Dsl.Runtime;

/// <summary>One device's buffers that are allocated and not yet disposed, their bytes and the bytes' high-water mark: what
/// <see cref="IDevice.LiveBuffers"/>, <see cref="IDevice.LiveBytes"/>, <see cref="IDevice.PeakBytes"/> and
/// <see cref="IDevice.ResetPeak"/> report. Counts what each buffer asked the driver for, so an empty tensor's one-float
/// buffer counts 4 bytes.</summary>
sealed class DeviceMemory
{
    long live, peak;
    int buffers;

    public int Buffers => Volatile.Read(ref buffers);
    public long Live => Interlocked.Read(ref live);
    public long Peak => Interlocked.Read(ref peak);

    /// <summary>Bytes a buffer of <paramref name="floats"/> takes: at least one float, as every backend allocates.</summary>
    public static long BytesOf(long floats) => Math.Max(1, floats) * sizeof(float);

    /// <summary>"1234 MiB", for messages.</summary>
    public static string Mib(long bytes) => $"{bytes / (1 << 20)} MiB";

    /// <summary>A buffer of <paramref name="floats"/> was allocated.</summary>
    public void Allocated(long floats)
    {
        Interlocked.Increment(ref buffers);
        long now = Interlocked.Add(ref live, BytesOf(floats)), seen;
        while (now > (seen = Interlocked.Read(ref peak)) && Interlocked.CompareExchange(ref peak, now, seen) != seen) { }
    }

    /// <summary>A buffer of <paramref name="floats"/> was disposed.</summary>
    public void Released(long floats)
    {
        Interlocked.Decrement(ref buffers);
        Interlocked.Add(ref live, -BytesOf(floats));
    }

    public void ResetPeak() => Interlocked.Exchange(ref peak, Live);
}
