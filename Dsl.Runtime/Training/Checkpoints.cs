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
    /// <summary>The train block's learning rate when the state was saved (0 in checkpoints older than this field), so
    /// resuming can tell that the model file's was edited since.</summary>
    public double BaseLearningRate { get; init; }
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
        SafeTensors.Save(path, parameters.State.Select(n => (n, parameters.Read(n))), metadata, parameters.ShapeOf);
    }

    /// <summary>Restores weights and optimiser state; returns the loop state.</summary>
    public static LoopState Load(string path, ParameterSet parameters)
    {
        var (tensors, meta) = SafeTensors.Read(path);
        if (!meta.TryGetValue("loop", out var loop)) throw new DataException($"{path} is a weights file, not a checkpoint: it has no loop state to resume from");
        LoopState state;
        try { state = JsonSerializer.Deserialize<LoopState>(loop, Json) ?? throw new JsonException("null"); }
        catch (JsonException e) { throw new DataException($"{path}: the loop state in its header is unreadable ({e.Message})", e); }
        if (state.Epoch < 0 || state.BatchesDone < 0 || state.Step < 0 || !double.IsFinite(state.LearningRate) || state.LearningRate < 0)
            throw new DataException($"{path}: the loop state in its header is impossible (epoch {state.Epoch}, batch {state.BatchesDone}, step {state.Step}, learning rate {state.LearningRate})");
        // Every tensor is checked before any is written: a checkpoint that does not fit changes nothing.
        foreach (var name in parameters.State)
        {
            if (!tensors.TryGetValue(name, out var t)) throw new DataException($"{path} has no tensor {name}: it belongs to another network or optimiser");
            if (parameters.Mismatch(name, t.Values.Length, t.Shape) is string why) throw new DataException($"{path}: tensor {name} does not fit this network: {why}");
        }
        foreach (var name in parameters.State) parameters.Write(name, tensors[name].Values);
        return state;
    }
}
