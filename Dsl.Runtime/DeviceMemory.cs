namespace Dsl.Runtime;

/// <summary>Bytes of one device's buffers that are allocated and not yet disposed, and their high-water mark: what
/// <see cref="IDevice.LiveBytes"/>, <see cref="IDevice.PeakBytes"/> and <see cref="IDevice.ResetPeak"/> report.
/// Counts what each buffer asked the driver for, so an empty tensor's one-float buffer counts 4 bytes.</summary>
sealed class DeviceMemory
{
    long live, peak;

    public long Live => Interlocked.Read(ref live);
    public long Peak => Interlocked.Read(ref peak);

    /// <summary>Bytes a buffer of <paramref name="floats"/> takes: at least one float, as every backend allocates.</summary>
    public static long BytesOf(long floats) => Math.Max(1, floats) * sizeof(float);

    public void Allocated(long bytes)
    {
        long now = Interlocked.Add(ref live, bytes), seen;
        while (now > (seen = Interlocked.Read(ref peak)) && Interlocked.CompareExchange(ref peak, now, seen) != seen) { }
    }

    public void Released(long bytes) => Interlocked.Add(ref live, -bytes);

    public void ResetPeak() => Interlocked.Exchange(ref peak, Live);
}
