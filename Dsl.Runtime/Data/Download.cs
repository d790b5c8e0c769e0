using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;

namespace Dsl.Runtime.Data;

/// <summary>How far a file's download has come; <see cref="Total"/> is null when the server does not say.</summary>
public sealed record DownloadProgress(string File, long Received, long? Total, double BytesPerSecond);

/// <summary>Fetches one file over HTTP(S) into a temporary file, resuming with a range request when the connection
/// drops or stalls, and keeps it only when its digest matches. Each request has limits (<see cref="DownloadLimits"/>):
/// headers in time, no stall or trickle, no more bytes than the file can be; a failure that may pass is tried again
/// after a growing wait.</summary>
public static class Download
{
    static readonly HttpClient Client = new(new SocketsHttpHandler
    {
        ConnectTimeout = TimeSpan.FromSeconds(20),
        AutomaticDecompression = DecompressionMethods.None, // the digest is of the bytes as published
    }) { Timeout = Timeout.InfiniteTimeSpan };

    /// <summary>Downloads <paramref name="file"/> from <paramref name="url"/> to <paramref name="target"/> (through
    /// TARGET.part, resuming one left there) and checks it against its digest. On any failure nothing is left at either
    /// path and a <see cref="DataException"/> names the address and says what happened; <paramref name="log"/> hears
    /// each try that failed and the wait before the next.</summary>
    public static void Fetch(Uri url, string target, RemoteFile file, DownloadLimits? limits = null, IProgress<DownloadProgress>? progress = null,
        Action<string>? log = null, CancellationToken cancel = default)
    {
        limits ??= DownloadLimits.Default;
        var part = target + ".part";
        try
        {
            for (int attempt = 1; ; attempt++)
            {
                try
                {
                    Transfer(url, part, file, limits, progress, cancel);
                    break;
                }
                catch (Exception e) when (attempt < limits.Attempts && Transient(e) && !cancel.IsCancellationRequested)
                {
                    var wait = limits.Backoff * Math.Pow(2, attempt - 1);
                    log?.Invoke($"{file.Name}: try {attempt} of {limits.Attempts} failed ({Describe(e)}); trying again in {wait.TotalSeconds:0.#} s");
                    if (cancel.WaitHandle.WaitOne(wait)) cancel.ThrowIfCancellationRequested();
                }
                catch (Exception e) when (Transient(e) && !cancel.IsCancellationRequested)
                {
                    throw new DataException($"{url}: {Describe(e)} (tried {attempt} times)", e);
                }
            }
            var actual = Hash(part, file.Digest.Algorithm);
            if (!string.Equals(actual, file.Digest.Hex, StringComparison.OrdinalIgnoreCase))
                throw new DataException($"{url}: the download does not match its published digest: expected {file.Digest}, got {actual}; it was deleted");
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
    static void Transfer(Uri url, string part, RemoteFile file, DownloadLimits limits, IProgress<DownloadProgress>? progress, CancellationToken cancel)
    {
        long have = File.Exists(part) ? new FileInfo(part).Length : 0;
        long most = DownloadLimits.MostBytes(file.Size);
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (have > 0) request.Headers.Range = new RangeHeaderValue(have, null);
        HttpResponseMessage sent;
        using (var headers = CancellationTokenSource.CreateLinkedTokenSource(cancel))
        {
            // A server that accepts the connection and says nothing would otherwise be waited for forever.
            headers.CancelAfter(limits.Headers);
            try { sent = Client.Send(request, HttpCompletionOption.ResponseHeadersRead, headers.Token); }
            catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
            {
                throw new TimeoutException($"no response headers within {limits.Headers.TotalSeconds:0.#} s");
            }
        }
        using var response = sent;
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
        if (total > most) throw new DataException($"{url}: the server announces {total:N0} bytes for {file.Name}, which is {file.Size:N0} bytes; not downloaded");
        using var output = new FileStream(part, resumed ? FileMode.Append : FileMode.Create, FileAccess.Write);
        using var input = response.Content.ReadAsStream(cancel);
        var buffer = new byte[1 << 16];
        var clock = System.Diagnostics.Stopwatch.StartNew();
        long received = have, reportedAt = 0, windowBytes = have;
        var windowStart = clock.Elapsed;
        while (true)
        {
            // A stalled connection is as bad as a dropped one: no byte for a whole window ends this try.
            using var idle = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            idle.CancelAfter(limits.Window);
            int n;
            try { n = input.ReadAsync(buffer, idle.Token).AsTask().GetAwaiter().GetResult(); }
            catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
            {
                throw new TimeoutException($"no data for {limits.Window.TotalSeconds:0.#} s after {received:N0} of {(total is long t ? $"{t:N0}" : "?")} bytes");
            }
            catch (IOException) { throw new IOException($"the connection closed after {received:N0} of {(total is long t ? $"{t:N0}" : "?")} bytes"); }
            if (n == 0) break;
            output.Write(buffer, 0, n);
            received += n;
            // An endless (or wrong) body must not fill the disk.
            if (received > most)
                throw new DataException($"{url}: the server sent more than {most:N0} bytes for {file.Name}, which is {file.Size:N0} bytes; the download was stopped and deleted");
            // A trickle (a few bytes every few seconds) never stalls a read but would take days.
            if (clock.Elapsed - windowStart >= limits.Window)
            {
                if (received - windowBytes < limits.MinBytes)
                    throw new TimeoutException($"only {received - windowBytes:N0} bytes in {(clock.Elapsed - windowStart).TotalSeconds:0.#} s (a trickle) after {received:N0} bytes");
                (windowStart, windowBytes) = (clock.Elapsed, received);
            }
            if (progress is not null && (received - reportedAt > (1 << 20) || received == total))
            {
                reportedAt = received;
                progress.Report(new DownloadProgress(file.Name, received, total, (received - have) / Math.Max(clock.Elapsed.TotalSeconds, 1e-3)));
            }
        }
        if (total is long expected && received < expected) throw new IOException($"the connection closed after {received:N0} of {expected:N0} bytes");
        progress?.Report(new DownloadProgress(file.Name, received, total ?? received, (received - have) / Math.Max(clock.Elapsed.TotalSeconds, 1e-3)));
    }

    static bool Transient(Exception e) => e switch
    {
        TimeoutException => true,
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
