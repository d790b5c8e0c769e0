namespace Dsl.Runtime.Data;

/// <summary>The binary versions of CIFAR-10 and CIFAR-100 (https://www.cs.toronto.edu/~kriz/cifar.html): records of
/// label bytes followed by 3072 pixel bytes, already 3 x 32 x 32 planes (red, green, blue), rows top to bottom.</summary>
public static class Cifar
{
    const int PixelBytes = 3 * 32 * 32;

    static readonly string[] Cifar10Classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

    /// <summary>Which of the two sets, and how its files are laid out.</summary>
    sealed record Layout(string Name, string[] TrainFiles, string TestFile, int LabelBytes, int Classes, string NamesFile);

    static readonly Layout Ten = new("CIFAR-10",
        Enumerable.Range(1, 5).Select(i => $"data_batch_{i}.bin").ToArray(), "test_batch.bin", 1, 10, "batches.meta.txt");

    // CIFAR-100 records carry the coarse (20 super-classes) then the fine (100 classes) label; the fine one is used.
    static readonly Layout Hundred = new("CIFAR-100",
        ["train.bin"], "test.bin", 2, 100, "fine_label_names.txt");

    /// <summary>CIFAR-10 from <paramref name="folder"/>: data_batch_1.bin to data_batch_5.bin and test_batch.bin.</summary>
    public static (ImageSet train, ImageSet test) Load10(string folder) => Load(Ten, folder);

    /// <summary>CIFAR-100 from <paramref name="folder"/>: train.bin and test.bin.</summary>
    public static (ImageSet train, ImageSet test) Load100(string folder) => Load(Hundred, folder);

    static (ImageSet train, ImageSet test) Load(Layout set, string folder)
    {
        var names = ClassNames(Path.Combine(folder, set.NamesFile), set.Classes)
            ?? (set.Classes == 10 ? Cifar10Classes : Enumerable.Range(0, set.Classes).Select(c => $"class {c}").ToArray());
        var train = Read(set, folder, set.TrainFiles, names);
        var test = Read(set, folder, [set.TestFile], names);
        return (train, test);
    }

    /// <summary>One name a line; null when the file is absent or does not name every class.</summary>
    static string[]? ClassNames(string path, int classes)
    {
        if (!File.Exists(path)) return null;
        var names = File.ReadAllLines(path).Select(l => l.Trim()).Where(l => l.Length > 0).ToArray();
        return names.Length == classes ? names : null;
    }

    static ImageSet Read(Layout set, string folder, string[] files, IReadOnlyList<string> names)
    {
        int record = set.LabelBytes + PixelBytes;
        var paths = files.Select(f => Path.Combine(folder, f)).ToArray();
        if (paths.FirstOrDefault(p => !File.Exists(p)) is string missing)
            throw new DataException($"{missing} is missing: the {set.Name} folder {folder} is incomplete (it needs {string.Join(", ", set.TrainFiles.Append(set.TestFile))})");
        var sizes = paths.Select(p => new FileInfo(p).Length).ToArray();
        for (int f = 0; f < paths.Length; f++)
            if (sizes[f] == 0 || sizes[f] % record != 0)
                throw new DataException($"{paths[f]} is truncated or not a {set.Name} file: {sizes[f]} bytes is not a whole number of {record}-byte records");
        int count = (int)(sizes.Sum() / record);
        var pixels = new byte[(long)count * PixelBytes];
        var labels = new int[count];
        var buffer = new byte[record];
        int n = 0;
        foreach (var path in paths)
        {
            using var file = File.OpenRead(path);
            for (long r = 0; r < file.Length / record; r++, n++)
            {
                file.ReadExactly(buffer);
                labels[n] = buffer[set.LabelBytes - 1];
                if (labels[n] >= set.Classes)
                    throw new DataException($"{path}: record {r} has label {labels[n]}, outside 0..{set.Classes - 1}; the file is corrupt or not {set.Name}");
                buffer.AsSpan(set.LabelBytes).CopyTo(pixels.AsSpan(n * PixelBytes, PixelBytes));
            }
        }
        return new ImageSet(pixels, labels, 3, 32, 32, names);
    }
}
