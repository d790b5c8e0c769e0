using Dsl.Core;

namespace Dsl.Runtime.Data;

/// <summary>Where a known data set is looked for and how a fetch reports: null members take the environment's
/// locations and report nothing.</summary>
public sealed record DataFetch(DataLocations? Locations = null, Action<string>? Log = null, IProgress<DownloadProgress>? Progress = null,
    CancellationToken Cancel = default);

/// <summary>Finds and loads the data set a train block names: training and test images.</summary>
public static class DataSources
{
    static readonly string[] FashionClasses =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    static (ImageSet train, ImageSet test) LoadIdx(KnownDataSet set, IReadOnlyList<string> classes, DataFetch? fetch)
    {
        var at = fetch?.Locations ?? DataLocations.FromEnvironment();
        var dir = Fetch(set, fetch);
        string File(string stem) => KnownDataSet.PathOf(dir, stem);
        try
        {
            return (Idx.Load(File("train-images-idx3-ubyte"), File("train-labels-idx1-ubyte"), classes),
                    Idx.Load(File("t10k-images-idx3-ubyte"), File("t10k-labels-idx1-ubyte"), classes));
        }
        catch (DataException e)
        {
            throw new DataException($"{e.Message}; {DataStore.Repair(set, at, dir)}", e);
        }
    }

    /// <summary>The known data set <paramref name="source"/> names, or null for an image folder or synthetic data.</summary>
    public static KnownDataSet? Known(DataSource source) => source switch
    {
        { IsFashionMnist: true } => KnownDataSets.FashionMnist,
        { IsMnist: true } => KnownDataSets.Mnist,
        { IsCifar10: true } => KnownDataSets.Cifar10,
        { IsCifar100: true } => KnownDataSets.Cifar100,
        _ => null,
    };

    static string Fetch(KnownDataSet set, DataFetch? fetch) =>
        DataStore.Get(set, fetch?.Locations ?? DataLocations.FromEnvironment(), fetch?.Log, fetch?.Progress, fetch?.Cancel ?? default);

    /// <summary>A learnable synthetic set: each class is a fixed random pattern plus noise. For benchmarks and tests.</summary>
    public static (ImageSet train, ImageSet test) Synthetic(int classes, int channels, int height, int width, int trainCount, int testCount, int seed)
    {
        var rng = new Random(seed);
        int size = channels * height * width;
        var templates = Enumerable.Range(0, classes).Select(_ => Enumerable.Range(0, size).Select(_ => (byte)rng.Next(256)).ToArray()).ToArray();
        ImageSet Make(int n)
        {
            var pixels = new byte[(long)n * size];
            var labels = new int[n];
            for (int i = 0; i < n; i++)
            {
                labels[i] = rng.Next(classes);
                var t = templates[labels[i]];
                for (int j = 0; j < size; j++) pixels[(long)i * size + j] = (byte)Math.Clamp(t[j] + rng.Next(-48, 49), 0, 255);
            }
            return new ImageSet(pixels, labels, channels, height, width, Enumerable.Range(0, classes).Select(c => $"class {c}").ToArray());
        }
        return (Make(trainCount), Make(testCount));
    }

    /// <summary>The training and test sets of <paramref name="source"/>. An image folder also takes the train block's
    /// <paramref name="spec"/> (its `resize` side and validation fraction, which also sizes the folder's test hold-out;
    /// without one, the input's side and 0.1) and reports each file it skips to <paramref name="skipped"/>.
    /// A known data set missing from every place is fetched into the cache, as <paramref name="fetch"/> says.</summary>
    public static (ImageSet train, ImageSet test) Load(DataSource source, Shape input, int seed, DataSpec? spec = null, Action<SkippedFile>? skipped = null,
        DataFetch? fetch = null) => source switch
    {
        { IsFashionMnist: true } => LoadIdx(KnownDataSets.FashionMnist, FashionClasses, fetch),
        { IsMnist: true } => LoadIdx(KnownDataSets.Mnist, Enumerable.Range(0, 10).Select(d => d.ToString()).ToArray(), fetch),
        { IsCifar10: true } => Cifar.Load10(Fetch(KnownDataSets.Cifar10, fetch)),
        { IsCifar100: true } => Cifar.Load100(Fetch(KnownDataSets.Cifar100, fetch)),
        DataSource.ImageFolder f => LoadFolder(f.path, input, seed, spec, skipped),
        DataSource.Synthetic s => input is Shape.Chw c
            ? Synthetic(s.classes, c.c, c.h, c.w, 2048, 512, seed)
            : Synthetic(s.classes, 1, 1, input.Elements, 2048, 512, seed),
        _ => throw new DataException($"the data source {source} is not supported yet"),
    };

    /// <summary>Images stored grey for a one-channel network, RGB otherwise, as squares of the `resize` side or the input's.</summary>
    static (ImageSet train, ImageSet test) LoadFolder(string path, Shape input, int seed, DataSpec? spec, Action<SkippedFile>? skipped)
    {
        if (input is not Shape.Chw { c: 1 or 3 } chw)
            throw new DataException($"an image folder feeds a network whose input is 1 or 3 channels x height x width, not {input}");
        int side = spec?.Resize?.Value ?? Math.Max(chw.h, chw.w);
        var (train, test, bad) = ImageFolder.LoadSplit(path, chw.c, side, spec?.Validation ?? 0.1, seed);
        foreach (var file in bad) skipped?.Invoke(file);
        return (train, test);
    }
}
