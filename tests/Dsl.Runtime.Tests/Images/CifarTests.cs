using Dsl.Runtime.Data;
using Xunit;

namespace Dsl.Runtime.Tests.Images;

public class CifarTests
{
    /// <summary>Records in the binary format: label bytes, then 3072 pixel bytes that encode the record's number.</summary>
    static byte[] Records(int count, int first, int labelBytes, Func<int, byte[]> labels)
    {
        var data = new byte[count * (labelBytes + 3072)];
        for (int r = 0; r < count; r++)
        {
            var span = data.AsSpan(r * (labelBytes + 3072), labelBytes + 3072);
            labels(first + r).CopyTo(span);
            for (int p = 0; p < 3072; p++) span[labelBytes + p] = (byte)(first + r + p / 1024);
        }
        return data;
    }

    static string Cifar10Folder()
    {
        var dir = TestFiles.TempDir();
        for (int b = 1; b <= 5; b++) File.WriteAllBytes(Path.Combine(dir, $"data_batch_{b}.bin"), Records(2, (b - 1) * 2, 1, n => [(byte)(n % 10)]));
        File.WriteAllBytes(Path.Combine(dir, "test_batch.bin"), Records(3, 100, 1, n => [(byte)(n % 10)]));
        File.WriteAllText(Path.Combine(dir, "batches.meta.txt"), string.Join("\n", Enumerable.Range(0, 10).Select(i => $"thing{i}")) + "\n\n");
        return dir;
    }

    [Fact]
    public void ReadsCifar10Batches()
    {
        var (train, test) = Cifar.Load10(Cifar10Folder());
        Assert.Equal((10, 3), (train.Count, test.Count));
        Assert.Equal((3, 32, 32), (train.Channels, train.Height, train.Width));
        Assert.Equal(Enumerable.Range(0, 10), train.Labels);
        Assert.Equal([0, 1, 2], test.Labels);
        Assert.Equal("thing3", train.ClassNames[3]);
        // Record 7: red plane 7, green 8, blue 9.
        var image = train.Image(7);
        Assert.Equal((7, 8, 9), (image[0], image[1024], image[3071]));
    }

    [Fact]
    public void ReadsCifar100FineLabels()
    {
        var dir = TestFiles.TempDir();
        File.WriteAllBytes(Path.Combine(dir, "train.bin"), Records(4, 0, 2, n => [(byte)(n % 20), (byte)(n * 30)]));
        File.WriteAllBytes(Path.Combine(dir, "test.bin"), Records(1, 0, 2, n => [19, 99]));
        var (train, test) = Cifar.Load100(dir);
        Assert.Equal([0, 30, 60, 90], train.Labels);
        Assert.Equal([99], test.Labels);
        Assert.Equal(100, train.Classes);
        Assert.Equal("class 42", train.ClassNames[42]);
    }

    [Fact]
    public void TruncatedOrIncompleteFoldersSayWhich()
    {
        var dir = Cifar10Folder();
        var path = Path.Combine(dir, "data_batch_3.bin");
        File.WriteAllBytes(path, File.ReadAllBytes(path)[..5000]);
        var e = Assert.Throws<DataException>(() => Cifar.Load10(dir));
        Assert.Contains(path, e.Message);
        Assert.Contains("truncated", e.Message);
        File.Delete(path);
        Assert.Contains("incomplete", Assert.Throws<DataException>(() => Cifar.Load10(dir)).Message);
    }

    [Fact]
    public void ALabelOutOfRangeIsCorruption()
    {
        var dir = Cifar10Folder();
        File.WriteAllBytes(Path.Combine(dir, "test_batch.bin"), Records(1, 0, 1, _ => [10]));
        Assert.Contains("label 10", Assert.Throws<DataException>(() => Cifar.Load10(dir)).Message);
    }

    [Fact]
    public void AMissingDataSetSaysWhereItLookedAndHowToGetIt()
    {
        var at = new DataLocations(null, Directory.CreateTempSubdirectory("dsl-cache-").FullName, ["/nonexistent/system"], new Uri("http://127.0.0.1:9/"));
        var e = Assert.Throws<DataException>(() => DataStore.Get(KnownDataSets.Cifar10, at));
        Assert.Contains("/nonexistent/system/cifar10", e.Message);
        Assert.Contains($"curl -fL https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz | tar xz -C {Path.Combine(at.Cache, "cifar10")}", e.Message);
    }

    [Fact]
    public void AFetchedArchiveIsUnpackedIntoTheCacheAndLoads()
    {
        // A CIFAR-10 archive as the publisher lays it out, with two records per file.
        var tgz = new MemoryStream();
        using (var gz = new System.IO.Compression.GZipStream(tgz, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true))
        using (var tar = new System.Formats.Tar.TarWriter(gz))
            foreach (var name in Enumerable.Range(1, 5).Select(i => $"data_batch_{i}.bin").Append("test_batch.bin"))
                tar.WriteEntry(new System.Formats.Tar.PaxTarEntry(System.Formats.Tar.TarEntryType.RegularFile, $"cifar-10-batches-bin/{name}")
                    { DataStream = new MemoryStream(Records(2, 0, 1, i => [(byte)(i % 10)])) });
        var bytes = tgz.ToArray();
        var sha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes));
        using var server = new DataSets.LoopbackServer((path, _, _) => (path == "cifar-10-binary.tar.gz" ? bytes : null, null));
        var set = KnownDataSets.Cifar10 with { Files = [KnownDataSets.Cifar10.Files[0] with { Digest = FileDigest.Sha256(sha) }] };
        var at = new DataLocations(null, Directory.CreateTempSubdirectory("dsl-cache-").FullName, [], server.Address, UseApt: false);
        var dir = DataStore.Get(set, at);
        Assert.Equal(Path.Combine(at.Cache, "cifar10", "cifar-10-batches-bin"), dir);
        var (train, test) = Cifar.Load10(dir);
        Assert.Equal((10, 2), (train.Count, test.Count));
        Assert.Equal(dir, DataStore.Find(set, at));
    }
}
