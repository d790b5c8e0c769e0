using System.Text.Json;

namespace Dsl.Runtime;

/// <summary>Where a training loop stands: with the weights and optimiser state, all a run needs to continue
/// exactly as if it had never stopped.</summary>
public sealed record LoopState
{
    /// <summary>Epochs finished; <see cref="BatchesDone"/> more batches of the next epoch are done too.</summary>
    public int Epoch { get; init; }
    public int BatchesDone { get; init; }
    /// <summary>Optimiser updates so far (seeds dropout; Adam's bias correction).</summary>
    public long Step { get; init; }
    public double LearningRate { get; init; }
    public double PlateauBest { get; init; } = double.PositiveInfinity;
    public int PlateauWait { get; init; }
    public double EarlyBest { get; init; } = double.PositiveInfinity;
    public int SinceBest { get; init; }
    public double BestCheckpoint { get; init; } = double.PositiveInfinity;
    /// <summary>The unfinished epoch's running sums, so its reported figures come out the same.</summary>
    public double LossSum { get; init; }
    public long Correct { get; init; }
    public long Seen { get; init; }
}

/// <summary>Checkpoints are safetensors files: weights, optimiser state (`.opt1`, `.opt2`), and the loop state as JSON
/// in the header's metadata. Written to a temporary file and renamed, so a killed run leaves the last whole one.</summary>
public static class Checkpoints
{
    public const string Latest = "last.safetensors";

    // "Nothing seen yet" is +infinity in the loop state.
    static readonly JsonSerializerOptions Json = new() { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };

    /// <summary>Saves weights, optimiser state and loop state; <paramref name="extra"/> adds metadata (the run's statistics).</summary>
    public static void Save(string path, ParameterSet parameters, LoopState state, string network, IReadOnlyDictionary<string, string>? extra = null)
    {
        var metadata = new Dictionary<string, string> { ["network"] = network, ["format"] = "dsl", ["loop"] = JsonSerializer.Serialize(state, Json) };
        foreach (var (key, value) in extra ?? new Dictionary<string, string>()) metadata[key] = value;
        SafeTensors.Save(path, parameters.State.Select(n => (n, parameters.Read(n))), metadata);
    }

    /// <summary>Restores weights and optimiser state; returns the loop state.</summary>
    public static LoopState Load(string path, ParameterSet parameters)
    {
        var (tensors, meta) = SafeTensors.LoadWithMetadata(path);
        if (!meta.TryGetValue("loop", out var loop)) throw new DataException($"{path} is a weights file, not a checkpoint: it has no loop state to resume from");
        foreach (var name in parameters.State)
        {
            if (!tensors.TryGetValue(name, out var values)) throw new DataException($"{path} has no tensor {name}: it belongs to another network or optimiser");
            parameters.Write(name, values);
        }
        return JsonSerializer.Deserialize<LoopState>(loop, Json) ?? throw new DataException($"{path}: unreadable loop state");
    }
}
