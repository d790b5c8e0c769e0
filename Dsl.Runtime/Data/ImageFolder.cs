using Dsl.Runtime.Images;

namespace Dsl.Runtime.Data;

/// <summary>A file in an image folder that could not be used, and why.</summary>
public sealed record SkippedFile(string Path, string Reason);

/// <summary>A folder with one sub-folder per class, read as Keras' image_dataset_from_directory reads it: the classes
/// are the sub-folders' names in ordinal order, an image's label is the sub-folder it lies in (at any depth).
/// Every image is decoded (PNG, JPEG, WebP, GIF or BMP, told by content), made grey or RGB, resized so its shorter side is the
/// requested size and cropped to the centred square, and kept as bytes. A file that cannot be used (empty, truncated,
/// not an image) is skipped and listed, never fatal. Hidden files and folders (.DS_Store, .ipynb_checkpoints) are
/// ignored, as the operating system's file listing ignores them. Links, FIFOs and unreadable folders: see <see cref="FolderWalk"/>.
/// A folder with fewer than two classes, or a class folder without a readable image, is refused.</summary>
public static class ImageFolder
{
    /// <summary>Training and test sets from a folder. A folder whose only sub-folders are <c>train</c> and <c>test</c>
    /// (or <c>val</c>, <c>validation</c>) brings its own split. Any other folder has no test split, so the test set is a
    /// seeded hold-out of <paramref name="testFraction"/> (the train block's validation fraction), and the trainer
    /// then splits its validation set off the rest: with 0.1, 81% trains, 9% validates, 10% tests.</summary>
    public static (ImageSet train, ImageSet test, IReadOnlyList<SkippedFile> skipped) LoadSplit(string root, int channels, int side, double testFraction, int seed)
    {
        var folders = SubFolders(root).Select(Path.GetFileName).ToHashSet();
        var testName = new[] { "test", "val", "validation" }.FirstOrDefault(folders.Contains);
        if (folders.Count == 2 && folders.Contains("train") && testName is not null)
        {
            var (train, skippedTrain) = Load(Path.Combine(root, "train"), channels, side);
            var (test, skippedTest) = Load(Path.Combine(root, testName), channels, side);
            if (!train.ClassNames.SequenceEqual(test.ClassNames))
                throw new DataException($"{root}/train and {root}/{testName} have different class folders " +
                    $"({string.Join(", ", train.ClassNames)} against {string.Join(", ", test.ClassNames)}); a label must mean the same class in both");
            return (train, test, skippedTrain.Concat(skippedTest).ToList());
        }
        var (all, skipped) = Load(root, channels, side);
        var (rest, heldOut) = all.Split(testFraction, Seeds.Int(seed, 0x7e57));
        return (rest, heldOut, skipped);
    }

    /// <summary>The class names a folder holds, without decoding any image (the network's `classes`).</summary>
    public static IReadOnlyList<string> ClassNames(string root)
    {
        if (!Directory.Exists(root)) throw new DataException($"the image folder {root} does not exist");
        var folders = SubFolders(root).ToArray();
        var names = folders.Select(Path.GetFileName).ToHashSet();
        bool split = folders.Length == 2 && names.Contains("train") && new[] { "test", "val", "validation" }.Any(names.Contains);
        return SubFolders(split ? Path.Combine(root, "train") : root).Select(d => Path.GetFileName(d)!).ToList();
    }

    /// <summary>One line saying what a folder gave: each class with its images (training and test together).</summary>
    public static string Summary(string root, ImageSet train, ImageSet test)
    {
        var counts = new int[train.Classes];
        foreach (var l in train.Labels.Concat(test.Labels)) counts[l]++;
        return $"image folder {root}: {train.Classes} classes, {train.Count + test.Count} images: " +
            string.Join(", ", train.ClassNames.Select((n, k) => $"{n} {counts[k]}"));
    }

    /// <summary>Every image under <paramref name="root"/>'s class folders as <paramref name="channels"/> (1 or 3) x
    /// <paramref name="side"/> x <paramref name="side"/> bytes, decoded on a few threads; and the files skipped.</summary>
    public static (ImageSet images, IReadOnlyList<SkippedFile> skipped) Load(string root, int channels, int side)
    {
        var classDirs = SubFolders(root).ToArray();
        if (classDirs.Length == 0)
            throw new DataException($"{root} has no class sub-folders: put each class's images in a sub-folder named after it ({Path.Combine(root, "cat", "1.jpg")}, {Path.Combine(root, "dog", "1.jpg")} ...)");
        if (classDirs.Length == 1)
            throw new DataException($"{root} has one class folder ({Path.GetFileName(classDirs[0])}); a classifier needs at least two classes, each in its own sub-folder");
        var walk = new FolderWalk(root, classDirs);
        // Every class walked before any list is read: a file met later may take an image back from a link met earlier.
        var perClass = classDirs.Select(walk.Files).ToList();
        var files = perClass
            .SelectMany((list, label) => list.Order(StringComparer.Ordinal).Select(path => (path, label)))
            .ToArray();
        if (files.Length == 0) throw new DataException($"the class folders of {root} ({string.Join(", ", classDirs.Select(Path.GetFileName))}) hold no files");
        int size = channels * side * side;
        if ((long)files.Length * size > Array.MaxLength)
            throw new DataException($"{files.Length} images of {channels}x{side}x{side} bytes do not fit in one array; resize to fewer pixels");

        var pixels = new byte[(long)files.Length * size];
        var reasons = new string?[files.Length];
        Parallel.For(0, files.Length, new ParallelOptions { MaxDegreeOfParallelism = Math.Clamp(Environment.ProcessorCount, 1, 8) }, i =>
        {
            var path = files[i].path;
            try
            {
                var image = Resample.CentreSquare(Image.Load(path, minSide: side).WithChannels(channels), side);
                ToPlanes(image, pixels.AsSpan(i * size, size));
            }
            // Whatever one file does, the other thousands still load; the reason goes in the list.
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                reasons[i] = e.Message.StartsWith(path + ": ", StringComparison.Ordinal) ? e.Message[(path.Length + 2)..] : e.Message;
            }
        });

        var skipped = walk.Skipped;
        var labels = new List<int>(files.Length);
        for (int i = 0; i < files.Length; i++)
        {
            if (reasons[i] is string reason) { skipped.Add(new SkippedFile(files[i].path, reason)); continue; }
            // Compact in place: the good images move down over the skipped ones.
            if (labels.Count != i) Array.Copy(pixels, (long)i * size, pixels, (long)labels.Count * size, size);
            labels.Add(files[i].label);
        }
        if (labels.Count == 0)
            throw new DataException($"none of the {files.Length} files under {root} is a readable image; the first, {skipped[0].Path}: {skipped[0].Reason}");
        var names = classDirs.Select(d => Path.GetFileName(d)!).ToArray();
        // Every class folder is an output of the network: one with no images would be a class it can never learn.
        var present = new bool[names.Length];
        foreach (var l in labels) present[l] = true;
        var empty = names.Where((_, k) => !present[k]).ToList();
        if (empty.Count > 0)
            throw new DataException($"the class folder{(empty.Count > 1 ? "s" : "")} {string.Join(", ", empty.Select(n => Path.Combine(root, n)))} " +
                $"{(empty.Count > 1 ? "hold" : "holds")} no readable image; every class folder is an output of the network, so add images or remove the folder" +
                (skipped.Count > 0 ? " (the files skipped are listed above)" : ""));
        if (labels.Count < files.Length) pixels = pixels.AsSpan(0, labels.Count * size).ToArray();
        return (new ImageSet(pixels, labels.ToArray(), channels, side, side, names), skipped);
    }

    static IEnumerable<string> SubFolders(string root)
    {
        if (!Directory.Exists(root)) throw new DataException($"the image folder {root} does not exist");
        // The default options skip hidden entries, which on Unix are the names with a leading dot.
        try { return Directory.EnumerateDirectories(root, "*", new EnumerationOptions { IgnoreInaccessible = false }).Order(StringComparer.Ordinal).ToArray(); }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            throw new DataException($"the image folder {root} cannot be read: {e.Message}");
        }
    }

    /// <summary>Interleaved pixels (H x W x C) to the set's layout (C x H x W).</summary>
    internal static void ToPlanes(Image image, Span<byte> output)
    {
        int c = image.Channels, plane = image.Width * image.Height;
        for (int p = 0; p < plane; p++)
            for (int ch = 0; ch < c; ch++)
                output[ch * plane + p] = image.Pixels[p * c + ch];
    }
}
