using System.Globalization;
using System.Text.Json;

namespace Dsl.Runtime;

/// <summary>What a weights file says besides its tensors: the network, the input normalisation learnt from the
/// training set, and the class names, so that prediction prepares images exactly as training did.</summary>
public static class WeightsFile
{
    public static Dictionary<string, string> Metadata(string network, (float[] mean, float[] std) stats, IReadOnlyList<string> classes) => new()
    {
        ["network"] = network,
        ["format"] = "dsl",
        ["mean"] = string.Join(",", stats.mean.Select(v => v.ToString("R", CultureInfo.InvariantCulture))),
        ["std"] = string.Join(",", stats.std.Select(v => v.ToString("R", CultureInfo.InvariantCulture))),
        ["classes"] = JsonSerializer.Serialize(classes),
    };

    public static (float[] mean, float[] std) Statistics(IReadOnlyDictionary<string, string> metadata, string path)
    {
        float[] Read(string key) => metadata.TryGetValue(key, out var v)
            ? v.Split(',').Select(x => float.Parse(x, CultureInfo.InvariantCulture)).ToArray()
            : throw new DataException($"{path} does not record the input normalisation ({key}); it was not written by `dsl run`");
        return (Read("mean"), Read("std"));
    }

    public static IReadOnlyList<string> Classes(IReadOnlyDictionary<string, string> metadata, int count) =>
        metadata.TryGetValue("classes", out var v) && JsonSerializer.Deserialize<string[]>(v) is { } names && names.Length == count
            ? names
            : Enumerable.Range(0, count).Select(i => $"class {i}").ToArray();
}
