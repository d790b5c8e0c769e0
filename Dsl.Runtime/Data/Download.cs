using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;

namespace Dsl.Runtime.Data;

/// <summary>How far a file's download has come; <see cref="Total"/> is null when the server does not say.</summary>
public sealed record DownloadProgress(string File, long Received, long? Total, double BytesPerSecond);

/// <summary>Fetches one file over HTTP(S) into a temporary file, resuming with a range request when the connection
/// drops, and keeps it only when its digest matches.</summary>
public static class Download
{
    const int Attempts = 3;
    static readonly TimeSpan Idle = TimeSpan.FromSeconds(60);

    static readonly HttpClient Client = new(new SocketsHttpHandler
    {
        ConnectTimeout = TimeSpan.FromSeconds(20),
        AutomaticDecompression = DecompressionMethods.None, // the digest is of the bytes as published
    }) { Timeout = Timeout.InfiniteTimeSpan };

    /// <summary>Downloads <paramref name="url"/> to <paramref name="target"/> (through TARGET.part) and checks it against
    /// <paramref name="digest"/>. On any failure nothing is left at either path and a <see cref="DataException"/> says why.</summary>
    public static void Fetch(Uri url, string target, FileDigest digest, IProgress<DownloadProgress>? progress = null, CancellationToken cancel = default)
    {
        var part = target + ".part";
        try
        {
            for (int attempt = 1; ; attempt++)
            {
                try
                {
                    Transfer(url, part, Path.GetFileName(target), progress, cancel);
                    break;
                }
                catch (Exception e) when (attempt < Attempts && Transient(e) && !cancel.IsCancellationRequested)
                {
                    Thread.Sleep(200 * attempt);
                }
            }
            var actual = Hash(part, digest.Algorithm);
            if (!string.Equals(actual, digest.Hex, StringComparison.OrdinalIgnoreCase))
                throw new DataException($"{url}: the download does not match its published digest: expected {digest.Algorithm} {digest.Hex}, got {actual}; it was deleted");
            File.Move(part, target, overwrite: true);
        }
        catch (Exception e) when (e is not DataException and not OperationCanceledException)
        {
            throw new DataException($"{url}: {Describe(e)}", e);
        }
        finally
        {
            File.Delete(part);
        }
    }

    /// <summary>One request: appends to what <paramref name="part"/> already holds when the server honours the range.</summary>
    static void Transfer(Uri url, string part, string name, IProgress<DownloadProgress>? progress, CancellationToken cancel)
    {
        long have = File.Exists(part) ? new FileInfo(part).Length : 0;
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (have > 0) request.Headers.Range = new RangeHeaderValue(have, null);
        using var response = Client.Send(request, HttpCompletionOption.ResponseHeadersRead, cancel);
        if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
        {
            File.Delete(part);
            throw new IOException("the server refused to resume; starting again");
        }
        if (!response.IsSuccessStatusCode)
            throw new HttpRequestException($"the server answered {(int)response.StatusCode} {response.ReasonPhrase}", null, response.StatusCode);
        bool resumed = have > 0 && response.StatusCode == HttpStatusCode.PartialContent;
        if (!resumed) have = 0;
        long? length = response.Content.Headers.ContentLength;
        long? total = length is long l ? have + l : null;
        using var output = new FileStream(part, resumed ? FileMode.Append : FileMode.Create, FileAccess.Write);
        using var input = response.Content.ReadAsStream(cancel);
        var buffer = new byte[1 << 16];
        var clock = System.Diagnostics.Stopwatch.StartNew();
        long received = have, reportedAt = 0;
        while (true)
        {
            // A stalled connection is as bad as a dropped one: each read gets the idle limit.
            using var idle = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            idle.CancelAfter(Idle);
            int n;
            try { n = input.ReadAsync(buffer, idle.Token).AsTask().GetAwaiter().GetResult(); }
            catch (OperationCanceledException) when (!cancel.IsCancellationRequested) { throw new IOException($"no data for {Idle.TotalSeconds:F0} s"); }
            catch (IOException) { throw new IOException($"the connection closed after {received:N0} of {(total is long t ? $"{t:N0}" : "?")} bytes"); }
            if (n == 0) break;
            output.Write(buffer, 0, n);
            received += n;
            if (progress is not null && (received - reportedAt > (1 << 20) || received == total))
            {
                reportedAt = received;
                progress.Report(new DownloadProgress(name, received, total, (received - have) / Math.Max(clock.Elapsed.TotalSeconds, 1e-3)));
            }
        }
        if (total is long expected && received < expected) throw new IOException($"the connection closed after {received:N0} of {expected:N0} bytes");
        progress?.Report(new DownloadProgress(name, received, total ?? received, (received - have) / Math.Max(clock.Elapsed.TotalSeconds, 1e-3)));
    }

    static bool Transient(Exception e) => e switch
    {
        HttpRequestException { StatusCode: { } code } => (int)code >= 500,
        HttpRequestException h => h.InnerException is IOException, // dropped mid-response, not a name or connect failure
        IOException => true,
        _ => false,
    };

    static string Describe(Exception e) => e.Message.TrimEnd('.');

    /// <summary>The lowercase hex digest of a file.</summary>
    public static string Hash(string path, string algorithm)
    {
        using var stream = File.OpenRead(path);
        byte[] hash = algorithm switch
        {
            "sha256" => SHA256.HashData(stream),
            "md5" => MD5.HashData(stream),
            _ => throw new ArgumentException($"unknown digest algorithm {algorithm}"),
        };
        return Convert.ToHexStringLower(hash);
    }
}
