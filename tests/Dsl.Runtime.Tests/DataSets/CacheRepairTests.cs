using Dsl.Core;
using Dsl.Runtime.Data;
using Xunit;
using Xunit.Abstractions;

namespace Dsl.Runtime.Tests.DataSets;

/// <summary>One changed byte in a data set's file: found before it is read, and repaired when it is in the cache;
/// named with what to do when it is not (never "internal error (InvalidDataException)").</summary>
public class CacheRepairTests(ITestOutputHelper output)
{
    static readonly string Subset = Path.Combine(TestData.Root, "fashion-mnist");
    const string Labels = "train-labels-idx1-ubyte.gz";

    // The subset's digests as tests/data/fashion-mnist/README.md lists them (sha256sum), not computed by the code under test.
    static readonly Dictionary<string, string> Sha256 = new()
    {
        ["train-images-idx3-ubyte.gz"] = "f22187ccdaf60ba8ba633c688ffdb32f5d0268e239d82877be5684d1661de7f9",
        ["train-labels-idx1-ubyte.gz"] = "eebe183fe476d171b9496a702183a5bac1aa920264ba962d5208ac2c6487ee0f",
        ["t10k-images-idx3-ubyte.gz"] = "54d129cc094c51d0496db5197d51ebc9ecc94cc743220d1d4077c752869991ca",
        ["t10k-labels-idx1-ubyte.gz"] = "dbcee292a255fe70d571317bf37c89b845f3177427c61a23f68e4230b262a846",
    };

    static KnownDataSet SubsetSet() => KnownDataSets.FashionMnist with
    {
        Files = KnownDataSets.FashionMnist.Files.Select(f => f with { Digest = FileDigest.Sha256(Sha256[f.Name]) }).ToArray(),
    };

    static byte[]? Served(string path) => File.Exists(Path.Combine(Subset, path)) ? File.ReadAllBytes(Path.Combine(Subset, path)) : null;

    static void FlipAByte(string path)
    {
        var bytes = File.ReadAllBytes(path);
        bytes[bytes.Length / 2] ^= 0xFF;
        File.WriteAllBytes(path, bytes);
    }

    [Fact]
    public void ADamagedFileInTheCacheIsFoundByItsDigestAndFetchedAgain()
    {
        using var server = new LoopbackServer((path, _, _) => (Served(path), null));
        var at = new DataLocations(null, Directory.CreateTempSubdirectory("dsl-cache-").FullName, [], server.Address, UseApt: false);
        var dir = DataStore.Get(SubsetSet(), at);
        // The digests recorded at the fetch are the README's.
        var recorded = File.ReadAllLines(Path.Combine(dir, DataStore.Manifest)).ToDictionary(l => l[66..], l => l[..64]);
        Assert.Equal(Sha256.OrderBy(p => p.Key), recorded.OrderBy(p => p.Key));

        FlipAByte(Path.Combine(dir, Labels));
        var log = new List<string>();
        Assert.Equal(dir, DataStore.Get(SubsetSet(), at, log.Add));
        log.ForEach(output.WriteLine);
        Assert.Contains(log, l => l.Contains($"{Path.Combine(dir, Labels)} is damaged: its sha256 is ") && l.Contains($", {Sha256[Labels]} when it was fetched"));
        Assert.Equal(8, server.Requests.Count);
        Assert.Equal(Served(Labels), File.ReadAllBytes(Path.Combine(dir, Labels)));
    }

    [Fact]
    public void ACopyPutInTheCacheByHandIsCheckedByItsGzipCrc()
    {
        using var server = new LoopbackServer((path, _, _) => (Served(path), null));
        var at = new DataLocations(null, Directory.CreateTempSubdirectory("dsl-cache-").FullName, [], server.Address, UseApt: false);
        var dir = Directory.CreateDirectory(Path.Combine(at.Cache, "fashion-mnist")).FullName;
        foreach (var name in Sha256.Keys) File.Copy(Path.Combine(Subset, name), Path.Combine(dir, name));
        Assert.Equal(dir, DataStore.Get(SubsetSet(), at));
        Assert.Empty(server.Requests); // a whole copy without digests is used as it is
        FlipAByte(Path.Combine(dir, Labels));
        var log = new List<string>();
        Assert.Equal(dir, DataStore.Get(SubsetSet(), at, log.Add));
        Assert.Contains(log, l => l.Contains($"{Path.Combine(dir, Labels)} is damaged: its gzip data does not decompress"));
        Assert.Equal(Served(Labels), File.ReadAllBytes(Path.Combine(dir, Labels)));
    }

    [Fact]
    public void ADamagedFileOutsideTheCacheIsNamedWithWhatToDo()
    {
        var root = Directory.CreateTempSubdirectory("dsl-data-").FullName;
        foreach (var name in Sha256.Keys) File.Copy(Path.Combine(Subset, name), Path.Combine(root, name));
        FlipAByte(Path.Combine(root, Labels));
        var at = new DataLocations(root, Directory.CreateTempSubdirectory("dsl-cache-").FullName, [], new Uri("http://127.0.0.1:9/"), UseApt: false);
        var e = Assert.Throws<DataException>(() => DataSources.Load(DataSource.FashionMnist, Shape.NewChw(1, 28, 28), 1, fetch: new DataFetch(at)));
        output.WriteLine(e.Message);
        Assert.StartsWith($"{Path.Combine(root, Labels)} is damaged: its gzip data does not decompress", e.Message);
        Assert.Contains($"replace it with a good copy, or move {root} away so that `dsl data get fashion-mnist` fetches one into the cache", e.Message);
        Assert.IsType<InvalidDataException>(e.InnerException?.InnerException);
        Assert.True(File.Exists(Path.Combine(root, Labels)), "a folder of the user's is not changed");
    }
}
