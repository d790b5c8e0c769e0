using Dsl.Core;

namespace Dsl.Runtime.Data;

/// <summary>Finds and loads the data set a train block names: training and test images.</summary>
public static class DataSources
{
    static readonly string[] FashionClasses =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    static IEnumerable<string> Roots(string name)
    {
        if (Environment.GetEnvironmentVariable("DSL_DATA") is { Length: > 0 } d)
        {
            yield return Path.Combine(d, name);
            yield return d;
        }
        yield return Path.Combine("/usr/share/datasets", name);
    }

    static string? Find(string dir, string stem) =>
        new[] { stem + ".gz", stem }.Select(f => Path.Combine(dir, f)).FirstOrDefault(File.Exists);

    static (ImageSet train, ImageSet test) LoadIdx(string name, string package, IReadOnlyList<string> classes)
    {
        foreach (var dir in Roots(name))
        {
            var files = new[] { "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte" }
                .Select(f => Find(dir, f)).ToArray();
            if (files.All(f => f is not null))
                return (Idx.Load(files[0]!, files[1]!, classes), Idx.Load(files[2]!, files[3]!, classes));
        }
        throw new DataException(
            $"the {name} data set was not found; looked in {string.Join(", ", Roots(name))}.\n" +
            $"  Install it with `sudo apt-get install {package}`, or put the four IDX files (train-images-idx3-ubyte.gz ...) in a folder and set DSL_DATA to it.");
    }

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
    /// without one, the input's side and 0.1) and reports each file it skips to <paramref name="skipped"/>.</summary>
    public static (ImageSet train, ImageSet test) Load(DataSource source, Shape input, int seed, DataSpec? spec = null, Action<SkippedFile>? skipped = null) => source switch
    {
        { IsFashionMnist: true } => LoadIdx("fashion-mnist", "dataset-fashion-mnist", FashionClasses),
        { IsMnist: true } => LoadIdx("mnist", "an MNIST data package", Enumerable.Range(0, 10).Select(d => d.ToString()).ToArray()),
        { IsCifar10: true } => Cifar.Find10(),
        { IsCifar100: true } => Cifar.Find100(),
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
