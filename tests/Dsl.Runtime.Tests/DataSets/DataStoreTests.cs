using Dsl.Runtime.Data;
using Xunit;
using Xunit.Abstractions;

namespace Dsl.Runtime.Tests.DataSets;

/// <summary>Fetching a data set for real, from a server on 127.0.0.1 that serves the shipped Fashion-MNIST subset.</summary>
public class DataStoreTests(ITestOutputHelper output)
{
    static readonly string Subset = Path.Combine(TestData.Root, "fashion-mnist");

    // The subset's digests as tests/data/fashion-mnist/README.md lists them (sha256sum), not computed by the code under test.
    static readonly Dictionary<string, string> Sha256 = new()
    {
        ["train-images-idx3-ubyte.gz"] = "f22187ccdaf60ba8ba633c688ffdb32f5d0268e239d82877be5684d1661de7f9",
        ["train-labels-idx1-ubyte.gz"] = "eebe183fe476d171b9496a702183a5bac1aa920264ba962d5208ac2c6487ee0f",
        ["t10k-images-idx3-ubyte.gz"] = "54d129cc094c51d0496db5197d51ebc9ecc94cc743220d1d4077c752869991ca",
        ["t10k-labels-idx1-ubyte.gz"] = "dbcee292a255fe70d571317bf37c89b845f3177427c61a23f68e4230b262a846",
    };

    /// <summary>Fashion-MNIST as the catalog knows it, but published with the subset's digests.</summary>
    static KnownDataSet SubsetSet(Func<string, string>? digest = null) => KnownDataSets.FashionMnist with
    {
        Files = KnownDataSets.FashionMnist.Files.Select(f => f with { Digest = FileDigest.Sha256((digest ?? (n => Sha256[n]))(f.Name)) }).ToArray(),
    };

    static DataLocations At(Uri server, bool apt = false) =>
        new(null, Directory.CreateTempSubdirectory("dsl-cache-").FullName, [], server, apt, new DownloadLimits { Attempts = 3, Backoff = TimeSpan.FromMilliseconds(100) });

    static byte[]? Served(string path) => File.Exists(Path.Combine(Subset, path)) ? File.ReadAllBytes(Path.Combine(Subset, path)) : null;

    static void AssertCacheEmpty(DataLocations at) =>
        Assert.Empty(Directory.EnumerateFileSystemEntries(at.Cache, "*", SearchOption.AllDirectories));

    [Fact]
    public void AGoodDownloadLandsInTheCacheAndASecondRunFetchesNothing()
    {
        using var server = new LoopbackServer((path, _, _) => (Served(path), null));
        var at = At(server.Address);
        var log = new List<string>();
        var dir = DataStore.Get(SubsetSet(), at, log.Add);
        Assert.Equal(Path.Combine(at.Cache, "fashion-mnist"), dir);
        Assert.Equal(4, log.Count(l => l.Contains("fetched")));
        var train = Idx.Load(Path.Combine(dir, "train-images-idx3-ubyte.gz"), Path.Combine(dir, "train-labels-idx1-ubyte.gz"), Enumerable.Range(0, 10).Select(c => $"{c}").ToArray());
        Assert.Equal(2000, train.Count);
        Assert.Equal(4, server.Requests.Count);
        Assert.Equal(dir, DataStore.Get(SubsetSet(), at, log.Add));
        Assert.Equal(4, server.Requests.Count);
        Assert.Equal(["fashion-mnist"], Directory.GetFileSystemEntries(at.Cache).Select(Path.GetFileName));
    }

    [Fact]
    public void AChecksumMismatchLeavesNothingAndNamesBothDigests()
    {
        using var server = new LoopbackServer((path, _, _) => (Served(path), null));
        var at = At(server.Address);
        var wrong = new string('0', 64);
        var e = Assert.Throws<DataException>(() => DataStore.Get(SubsetSet(n => n.StartsWith("t10k-images") ? wrong : Sha256[n]), at));
        output.WriteLine(e.Message);
        Assert.Contains($"expected sha256 {wrong}", e.Message);
        Assert.Contains($"got {Sha256["t10k-images-idx3-ubyte.gz"]}", e.Message);
        Assert.Contains("sudo apt-get install dataset-fashion-mnist", e.Message);
        AssertCacheEmpty(at);
    }

    [Fact]
    public void ABodyCutShortEveryTimeFailsAndLeavesNothing()
    {
        using var server = new LoopbackServer((path, _, _) => (Served(path), 1000));
        var at = At(server.Address);
        var e = Assert.Throws<DataException>(() => DataStore.Get(SubsetSet(), at));
        output.WriteLine(e.Message);
        Assert.Contains("closed after", e.Message);
        Assert.Equal(3, server.Requests.Count); // the first file, tried three times
        Assert.Contains("(tried 3 times)", e.Message);
        AssertCacheEmpty(at);
    }

    [Fact]
    public void AConnectionClosedMidFileResumesFromWhereItStopped()
    {
        // The first request for the training images stops after 100,000 bytes; the next asks for the rest.
        using var server = new LoopbackServer((path, range, n) => (Served(path), path.StartsWith("train-images") && range is null ? 100_000 : null));
        var at = At(server.Address);
        var dir = DataStore.Get(SubsetSet(), at);
        var resumed = server.Requests.Where(r => r.path.StartsWith("train-images")).ToArray();
        Assert.Equal([(string)"train-images-idx3-ubyte.gz", "train-images-idx3-ubyte.gz"], resumed.Select(r => r.path));
        Assert.Equal([null, 100_000L], resumed.Select(r => r.rangeStart));
        Assert.Equal(Sha256["train-images-idx3-ubyte.gz"], Download.Hash(Path.Combine(dir, "train-images-idx3-ubyte.gz"), "sha256"));
    }

    [Fact]
    public void ANotFoundFailsAtOnceAndLeavesNothing()
    {
        using var server = new LoopbackServer((path, _, _) => (path.StartsWith("t10k-labels") ? null : Served(path), null));
        var at = At(server.Address);
        var e = Assert.Throws<DataException>(() => DataStore.Get(SubsetSet(), at));
        output.WriteLine(e.Message);
        Assert.Contains("404", e.Message);
        Assert.Contains("t10k-labels-idx1-ubyte.gz", e.Message);
        Assert.Equal(4, server.Requests.Count);
        AssertCacheEmpty(at);
    }

    [Fact]
    public void NoNetworkAndNoAptNamesEveryPlaceAndTheFix()
    {
        var at = new DataLocations("/nonexistent/dsl-data", Directory.CreateTempSubdirectory("dsl-cache-").FullName, ["/nonexistent/system"], new Uri("http://127.0.0.1:9/"), UseApt: false);
        var e = Assert.Throws<DataException>(() => DataStore.Get(KnownDataSets.Mnist, at));
        output.WriteLine(e.Message);
        Assert.Contains("/nonexistent/dsl-data/mnist", e.Message);
        Assert.Contains(Path.Combine(at.Cache, "mnist"), e.Message);
        Assert.Contains("/nonexistent/system/mnist", e.Message);
        Assert.Contains("http://127.0.0.1:9/train-images-idx3-ubyte.gz", e.Message);
        Assert.Contains("curl -fLO https://ossci-datasets.s3.amazonaws.com/mnist/train-images-idx3-ubyte.gz", e.Message);
        AssertCacheEmpty(at);
    }

    [Fact]
    public void TheDistributionPackageIsTheFallbackAndHoldsTheCatalogsContent()
    {
        if (!AptPackage.Available) { output.WriteLine("skipped: this machine has no apt-get"); return; }
        if (!Directory.EnumerateFiles("/var/lib/apt/lists", "*Packages*").Any() && Environment.UserName != "root")
        {
            output.WriteLine("skipped: apt has no package lists and this user cannot refresh them");
            return;
        }
        // The publisher is unreachable (port 9 refuses), so the set must come from dataset-fashion-mnist; its content
        // is checked against the catalog's digests, which a wrong digest in the code would fail.
        var at = At(new Uri("http://127.0.0.1:9/"), apt: true);
        var log = new List<string>();
        var dir = DataStore.Get(KnownDataSets.FashionMnist, at, log.Add);
        log.ForEach(output.WriteLine);
        Assert.Equal(Path.Combine(at.Cache, "fashion-mnist"), dir);
        var test = Idx.Load(Path.Combine(dir, "t10k-images-idx3-ubyte.gz"), Path.Combine(dir, "t10k-labels-idx1-ubyte.gz"), Enumerable.Range(0, 10).Select(c => $"{c}").ToArray());
        Assert.Equal(10_000, test.Count);
        Assert.Equal(["fashion-mnist"], Directory.GetFileSystemEntries(at.Cache).Select(Path.GetFileName));
    }
}
