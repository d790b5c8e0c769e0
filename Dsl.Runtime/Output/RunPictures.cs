namespace Dsl.Runtime.Output;

/// <summary>The pictures of a run, written into its folder after training: curves.png and curves.svg from the
/// metrics, filters.png from the first convolution's weights, confusion.png from the test set's confusion matrix.</summary>
public static class RunPictures
{
    /// <summary>Writes each picture whose inputs are given and returns the paths written.
    /// <paramref name="metricsCsv"/> defaults to the run folder's metrics.csv; curves are drawn once it holds an epoch.
    /// <paramref name="filterWeights"/> are the first convolution's weights, flattened, of shape
    /// <paramref name="filterShape"/> [filters, channels, height, width] (e.g. conv1.weight).
    /// <paramref name="confusion"/> counts [true class, predicted class], the classes named by <paramref name="classNames"/>.</summary>
    public static IReadOnlyList<string> Write(string runDir, string? metricsCsv = null, float[]? filterWeights = null, IReadOnlyList<int>? filterShape = null,
        int[,]? confusion = null, IReadOnlyList<string>? classNames = null)
    {
        RunFolder.Create(runDir);
        var written = new List<string>();
        // Through a temporary file, as every file of a run: a failed write (read-only folder, full disk) says which picture.
        void Save(string name, Func<byte[]> draw)
        {
            var path = Path.Combine(runDir, name);
            AtomicFile.WriteBytes(path, draw());
            written.Add(path);
        }
        metricsCsv ??= Path.Combine(runDir, "metrics.csv");
        if (File.Exists(metricsCsv) && Curves.Read(metricsCsv) is { Count: > 0 } epochs)
        {
            Save("curves.png", () => Curves.Png(epochs));
            Save("curves.svg", () => System.Text.Encoding.UTF8.GetBytes(Curves.Svg(epochs)));
        }
        if (filterWeights is not null && filterShape is not null)
            Save("filters.png", () => Filters.Draw(filterWeights, filterShape).ToPng());
        if (confusion is not null)
            Save("confusion.png", () => Confusion.Png(confusion, classNames ?? []));
        return written;
    }
}
