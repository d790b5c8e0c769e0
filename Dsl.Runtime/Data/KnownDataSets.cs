namespace Dsl.Runtime.Data;

/// <summary>How a fetched file is checked: a hex digest with its algorithm ("sha256", or "md5" where the publisher
/// gives only that).</summary>
public sealed record FileDigest(string Algorithm, string Hex)
{
    public static FileDigest Sha256(string hex) => new("sha256", hex);
    public static FileDigest Md5(string hex) => new("md5", hex);
    public override string ToString() => $"{Algorithm} {Hex}";
}

/// <summary>One file as its publisher serves it, and its size in bytes (a download stops well before it grows past it).</summary>
public sealed record RemoteFile(string Name, Uri Url, FileDigest Digest, long Size);

/// <summary>A data set known by name: the files that show it is present in a folder, where it is published, and the
/// distribution package that carries it (when one does).</summary>
/// <param name="Name">The name a train block and `dsl data` use (fashion-mnist).</param>
/// <param name="Title">The name its publisher uses (Fashion-MNIST).</param>
/// <param name="Folder">The folder name it is kept under in a data root and in the cache.</param>
/// <param name="Subfolders">Folders below a root that may hold it, tried in order ("" is the root itself).</param>
/// <param name="Marker">Files that must all be present (each also found gzipped, as NAME.gz, for IDX sets).</param>
/// <param name="Files">The files as the publisher serves them.</param>
/// <param name="Archive">When the publisher serves one .tar.gz, its unpacked top folder; null when it serves the files.</param>
/// <param name="AptPackage">A Debian package holding the set under /usr/share/datasets/<see cref="Folder"/>, or null.</param>
/// <param name="ContentSha256">SHA-256 of each marker file's uncompressed content, where known: checks a copy from a
/// source other than the publisher's (the Debian package recompresses the files, so their gzip digests differ).</param>
public sealed record KnownDataSet(
    string Name, string Title, string Folder, string[] Subfolders, string[] Marker, RemoteFile[] Files,
    string? Archive, string? AptPackage, IReadOnlyDictionary<string, string> ContentSha256)
{
    /// <summary>True when <paramref name="dir"/> holds every marker file.</summary>
    public bool IsIn(string dir) => Marker.All(m => File.Exists(PathOf(dir, m)));

    /// <summary>Where marker file <paramref name="name"/> is in <paramref name="dir"/>: NAME.gz when present, else NAME.</summary>
    public static string PathOf(string dir, string name) =>
        File.Exists(Path.Combine(dir, name + ".gz")) ? Path.Combine(dir, name + ".gz") : Path.Combine(dir, name);
}

/// <summary>The data sets `data NAME` may name, with their publishers' addresses and digests.</summary>
public static class KnownDataSets
{
    static readonly string[] IdxFiles = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];

    static RemoteFile[] Idx(string baseUrl, long[] sizes, params string[] md5) =>
        IdxFiles.Select((f, i) => new RemoteFile(f + ".gz", new Uri(baseUrl + f + ".gz"), FileDigest.Md5(md5[i]), sizes[i])).ToArray();

    // MD5 digests as Zalando's README and torchvision publish them (no SHA-256 is published); sizes as the servers
    // announce them (torchvision's and Keras's tables agree). The content digests were
    // computed on 2026-11-29 from Debian's dataset-fashion-mnist 1.0 (gunzip | sha256sum); its files hold the same bytes.
    public static readonly KnownDataSet FashionMnist = new(
        "fashion-mnist", "Fashion-MNIST", "fashion-mnist", ["fashion-mnist", ""], IdxFiles,
        Idx("https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/", [26_421_880, 29_515, 4_422_102, 5_148],
            "8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe", "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310"),
        null, "dataset-fashion-mnist",
        new Dictionary<string, string>
        {
            ["train-images-idx3-ubyte"] = "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            ["train-labels-idx1-ubyte"] = "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            ["t10k-images-idx3-ubyte"] = "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            ["t10k-labels-idx1-ubyte"] = "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        });

    // torchvision's HTTPS mirror of LeCun's files, with the MD5 digests torchvision checks.
    public static readonly KnownDataSet Mnist = new(
        "mnist", "MNIST", "mnist", ["mnist", ""], IdxFiles,
        Idx("https://ossci-datasets.s3.amazonaws.com/mnist/", [9_912_422, 28_881, 1_648_877, 4_542],
            "f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432", "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c"),
        null, null, new Dictionary<string, string>());

    // The binary versions from https://www.cs.toronto.edu/~kriz/cifar.html, with the MD5 digests that page gives.
    public static readonly KnownDataSet Cifar10 = new(
        "cifar10", "CIFAR-10", "cifar10", ["cifar10/cifar-10-batches-bin", "cifar-10-batches-bin", "cifar10", ""],
        [.. Enumerable.Range(1, 5).Select(i => $"data_batch_{i}.bin"), "test_batch.bin"],
        [new("cifar-10-binary.tar.gz", new Uri("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"), FileDigest.Md5("c32a1d4ab5d03f1284b67883e8d87530"), 170_052_171)],
        "cifar-10-batches-bin", null, new Dictionary<string, string>());

    public static readonly KnownDataSet Cifar100 = new(
        "cifar100", "CIFAR-100", "cifar100", ["cifar100/cifar-100-binary", "cifar-100-binary", "cifar100", ""],
        ["train.bin", "test.bin"],
        [new("cifar-100-binary.tar.gz", new Uri("https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz"), FileDigest.Md5("03b5dce01913d631647c71ecec9e9cb8"), 168_513_733)],
        "cifar-100-binary", null, new Dictionary<string, string>());

    public static IReadOnlyList<KnownDataSet> All { get; } = [FashionMnist, Mnist, Cifar10, Cifar100];

    /// <summary>The set called <paramref name="name"/> (case-insensitive; "cifar-10" and "cifar-100" too), or null.</summary>
    public static KnownDataSet? Named(string name) =>
        All.FirstOrDefault(s => string.Equals(s.Name, name.Replace("cifar-", "cifar"), StringComparison.OrdinalIgnoreCase));
}
