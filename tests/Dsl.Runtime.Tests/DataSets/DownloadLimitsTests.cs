using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Dsl.Runtime.Data;
using Xunit;
using Xunit.Abstractions;

namespace Dsl.Runtime.Tests.DataSets;

/// <summary>Mirrors that misbehave: silent after the connection, trickling, sending an endless body. Each download
/// gives up within its limits (set to about a second here), tries again with a wait, and fails naming the address and
/// what happened, leaving nothing in the cache. And a fetch killed part-way is resumed by the next.</summary>
public class DownloadLimitsTests(ITestOutputHelper output)
{
    static readonly string Subset = Path.Combine(TestData.Root, "fashion-mnist");
    const string Labels = "t10k-labels-idx1-ubyte.gz";

    static readonly DownloadLimits Quick = new()
    {
        Headers = TimeSpan.FromSeconds(1), Window = TimeSpan.FromSeconds(1), MinBytes = 1000, Attempts = 2, Backoff = TimeSpan.FromMilliseconds(100),
    };

    /// <summary>One small file of the shipped subset, its digest and size as a catalog would list them.</summary>
    static (KnownDataSet set, byte[] bytes) OneFile()
    {
        var bytes = File.ReadAllBytes(Path.Combine(Subset, Labels));
        var sha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes));
        var file = new RemoteFile(Labels, new Uri("https://example.org/" + Labels), FileDigest.Sha256(sha), bytes.Length);
        return (KnownDataSets.Mnist with { Marker = [Labels[..^3]], Files = [file] }, bytes);
    }

    // The limit a test is not about is kept far off, so that a loaded machine does not trip it instead.
    static DataLocations At(Uri server, DownloadLimits? limits = null) =>
        new(null, Directory.CreateTempSubdirectory("dsl-cache-").FullName, [], server, UseApt: false, Limits: limits ?? Quick);

    static readonly DownloadLimits Patient = Quick with { Headers = TimeSpan.FromSeconds(20), Window = TimeSpan.FromSeconds(20) };

    static void Head(NetworkStream s, string extra) => s.Write(Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\n{extra}Connection: close\r\n\r\n"));

    /// <summary>Waits until the client hangs up (a read returns 0 or fails).</summary>
    static void UntilClosed(NetworkStream s)
    {
        try { while (s.Read(new byte[256]) > 0) { } }
        catch (IOException) { }
    }

    DataException Fails(KnownDataSet set, DataLocations at, double withinSeconds, List<string> log)
    {
        var clock = Stopwatch.StartNew();
        // A download that hangs fails the test instead of hanging the suite.
        using var stop = new CancellationTokenSource();
        var fetch = Task.Run(() => DataStore.Get(set, at, l => { lock (log) log.Add(l); }, null, stop.Token));
        if (!((IAsyncResult)fetch).AsyncWaitHandle.WaitOne(TimeSpan.FromSeconds(2 * withinSeconds)))
        {
            stop.Cancel();
            Assert.Fail($"the download was still going after {clock.Elapsed.TotalSeconds:F0} s");
        }
        var e = Assert.IsType<DataException>(Assert.Throws<AggregateException>(() => fetch.Wait()).InnerException);
        output.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s: {e.Message}");
        log.ForEach(output.WriteLine);
        Assert.True(clock.Elapsed.TotalSeconds < withinSeconds, $"took {clock.Elapsed.TotalSeconds:F1} s");
        Assert.Empty(Directory.EnumerateFileSystemEntries(at.Cache, "*", SearchOption.AllDirectories));
        return e;
    }

    [Fact]
    public void AServerThatNeverSendsHeadersIsLeftAfterTheHeaderLimitAndRetried()
    {
        var (set, _) = OneFile();
        using var server = new LoopbackServer((stream, _, _, _) => UntilClosed(stream));
        var log = new List<string>();
        var e = Fails(set, At(server.Address), 15, log);
        Assert.Contains($"{server.Address}{Labels}: no response headers within 1 s (tried 2 times)", e.Message);
        Assert.Equal(2, server.Requests.Count);
        Assert.Contains(log, l => l.Contains("try 1 of 2 failed (no response headers within 1 s); trying again in 0.1 s"));
    }

    [Fact]
    public void ATrickleIsAStallAndTheNextTryResumes()
    {
        var (set, bytes) = OneFile();
        // 10 bytes every 200 ms: never idle for a second, but 50 bytes a second against a floor of 1000.
        using var server = new LoopbackServer((stream, _, range, _) =>
        {
            var body = bytes[(int)(range ?? 0)..];
            Head(stream, $"Content-Length: {body.Length}\r\n");
            for (int i = 0; i < body.Length; i += 10)
            {
                stream.Write(body, i, Math.Min(10, body.Length - i));
                Thread.Sleep(200);
            }
        });
        var e = Fails(set, At(server.Address, Quick with { Headers = TimeSpan.FromSeconds(20) }), 15, []);
        Assert.Contains($"{server.Address}{Labels}: only ", e.Message);
        Assert.Contains("(a trickle)", e.Message);
        Assert.Contains("(tried 2 times)", e.Message);
        // The second try asked for the rest (the server ignores ranges; what counts is that it was asked).
        Assert.Null(server.Requests[0].rangeStart);
        Assert.True(server.Requests[1].rangeStart > 0, $"second request's range {server.Requests[1].rangeStart}");
    }

    [Fact]
    public void AnEndlessBodyStopsAtTheFilesSizeAndAMarginAndIsNotRetried()
    {
        var (set, bytes) = OneFile();
        long sent = 0;
        using var server = new LoopbackServer((stream, _, _, _) =>
        {
            Head(stream, "");
            var zeros = new byte[1 << 16];
            try { while (true) { stream.Write(zeros); Interlocked.Add(ref sent, zeros.Length); } }
            catch (IOException) { }
        });
        var e = Fails(set, At(server.Address, Patient), 15, []);
        long most = DownloadLimits.MostBytes(bytes.Length);
        Assert.Contains($"{server.Address}{Labels}: the server sent more than {most:N0} bytes for {Labels}, which is {bytes.Length:N0} bytes", e.Message);
        Assert.Single(server.Requests);
        Assert.True(most == bytes.Length + bytes.Length / 10 + (1 << 20));
    }

    [Fact]
    public void AnAnnouncedLengthLargerThanTheFileIsRefusedBeforeAnyByte()
    {
        var (set, bytes) = OneFile();
        using var server = new LoopbackServer((stream, _, _, _) => { Head(stream, "Content-Length: 1000000000000\r\n"); UntilClosed(stream); });
        var e = Fails(set, At(server.Address, Patient), 15, []);
        Assert.Contains($"the server announces 1,000,000,000,000 bytes for {Labels}, which is {bytes.Length:N0} bytes", e.Message);
    }

    [Fact]
    public void APartLeftByAKilledFetchIsResumedAndItsFolderRemoved()
    {
        var (set, bytes) = OneFile();
        using var server = new LoopbackServer((path, _, _) => (path == Labels ? bytes : null, null));
        var at = At(server.Address, Patient);
        // What a fetch killed after 200 bytes leaves: its staging folder, named for a process that no longer runs.
        var dead = Process.Start("true")!;
        dead.WaitForExit();
        var stale = Directory.CreateDirectory(Path.Combine(at.Cache, $".fetch-{set.Folder}-{dead.Id}", "files")).FullName;
        File.WriteAllBytes(Path.Combine(stale, Labels + ".part"), bytes[..200]);
        var log = new List<string>();
        var dir = DataStore.Get(set, at, log.Add);
        Assert.Equal([(Labels, (long?)200)], server.Requests);
        Assert.Equal(bytes, File.ReadAllBytes(Path.Combine(dir, Labels)));
        Assert.Contains(log, l => l.Contains($"resuming {Labels} from the"));
        Assert.Equal([set.Folder], Directory.GetFileSystemEntries(at.Cache).Select(Path.GetFileName));
    }

    [Fact]
    public void ProgressIsReportedWhileAFileComes()
    {
        var (set, bytes) = OneFile();
        using var server = new LoopbackServer((path, _, _) => (path == Labels ? bytes : null, null));
        var reports = new List<DownloadProgress>();
        DataStore.Get(set, At(server.Address, Patient), null, new SyncProgress(reports.Add));
        Assert.Equal((Labels, bytes.Length, (long?)bytes.Length), (reports[^1].File, reports[^1].Received, reports[^1].Total));
    }

    sealed class SyncProgress(Action<DownloadProgress> report) : IProgress<DownloadProgress>
    {
        public void Report(DownloadProgress value) => report(value);
    }
}
