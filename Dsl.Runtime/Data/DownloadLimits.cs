namespace Dsl.Runtime.Data;

/// <summary>When a download gives up on a server: no response headers in time, a transfer that stalls or trickles
/// (curl's --speed-limit and --speed-time), a body larger than the file can be; and how often it tries again.</summary>
public sealed record DownloadLimits
{
    /// <summary>The response headers must arrive within this after the request.</summary>
    public TimeSpan Headers { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Fewer than <see cref="MinBytes"/> in a window this long (or no byte at all for this long) is a stall.</summary>
    public TimeSpan Window { get; init; } = TimeSpan.FromSeconds(30);

    public long MinBytes { get; init; } = 16 * 1024;

    /// <summary>Tries in all: a failure that may pass (a stall, a dropped connection, a 5xx) is tried again, resuming.</summary>
    public int Attempts { get; init; } = 4;

    /// <summary>The wait before the second try, doubled before each later one.</summary>
    public TimeSpan Backoff { get; init; } = TimeSpan.FromSeconds(2);

    public static DownloadLimits Default { get; } = new();

    /// <summary>The most bytes a file of <paramref name="size"/> bytes may arrive as: a tenth more and 1 MiB, so that a
    /// republished file of about the same size still comes, and an endless body stops long before the disk fills.</summary>
    public static long MostBytes(long size) => size + size / 10 + (1 << 20);
}
