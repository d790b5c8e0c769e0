using Dsl.Compiler;
using Dsl.Core;
using Dsl.Runtime.Diagnosis;

namespace Dsl.Runtime;

/// <summary>Gathers what the diagnosis reads while a run trains and appends it to the run folder's stats.csv: the settings
/// that shape its advice, the step loss (about 50 values an epoch), and at each epoch's last step, per trainable layer, the
/// weight norm, the gradient norm, the update-to-weight ratio of that step, and the fraction of units whose bias gradient
/// was zero over the whole batch (dead units: a ReLU that never fired passes no gradient; the bias, unlike the weights, does not
/// depend on the layer's input, so the layers after a silent one are not counted silent too); per class the validation recall.
/// The cost is a few reads of the weights and gradients per epoch (bench/stats-cost.sh measures it). Checkpoints carry a
/// copy, so a resumed run keeps them.</summary>
public sealed class RunStatistics
{
    readonly string path;
    readonly ParameterSet parameters;
    readonly List<(string Layer, string Weight, string? Bias, int Units)> layers = new();
    readonly int batches, every;
    readonly List<StatRow> pending = new();
    float[][]? before;
    float[][]? grads;
    float[]?[]? biasGrads;

    /// <summary>Statistics of a run whose epochs have <paramref name="batches"/> training steps.</summary>
    public RunStatistics(string runDir, Shapes.Inferred network, Plan trainPlan, ParameterSet parameters, int batches)
    {
        path = Path.Combine(runDir, StatsFile.Name);
        this.parameters = parameters;
        this.batches = batches;
        every = Math.Max(1, batches / 50);
        var units = network.Layers.ToDictionary(l => l.Node.Name, l => l.Node.Layer switch
        {
            Layer.Conv c => c.Item.Filters,
            Layer.Dense d => d.Item.Units,
            _ => 0,
        });
        // Frozen layers (lr-mult 0) neither move nor, necessarily, get gradients: nothing to judge.
        foreach (var p in trainPlan.Params)
            if (p.Role == "weight" && p.LrMult > 0 && units.GetValueOrDefault(p.Layer) > 0)
            {
                var bias = trainPlan.Params.FirstOrDefault(b => b.Layer == p.Layer && b.Role == "bias");
                layers.Add((p.Layer, trainPlan.Buffers[p.Value].Name, bias is null ? null : trainPlan.Buffers[bias.Value].Name, units[p.Layer]));
            }
    }

    /// <summary>What the diagnosis needs to know of a run's settings to word its advice (stats.csv's run rows).</summary>
    public static IEnumerable<(string, double)> Settings(Shapes.Inferred network, TrainConfig config, Plan trainPlan, double lr0, int batch, int epochs,
        int trainImages, int validationImages)
    {
        static double Flag(bool b) => b ? 1 : 0;
        yield return ("learning_rate", lr0);
        yield return ("batch", batch);
        yield return ("epochs", epochs);
        yield return ("train_images", trainImages);
        yield return ("val_images", validationImages);
        yield return ("weight_decay", config.Optimizer switch
        {
            Optimizer.Sgd s => s.weightDecay, Optimizer.Adam a => a.weightDecay, Optimizer.RmsProp r => r.weightDecay, _ => 0,
        });
        yield return ("dropout", Flag(network.Layers.Any(l => l.Node.Layer.IsDropout)));
        yield return ("batchnorm", Flag(network.Layers.Any(l => l.Node.Layer.IsBatchNorm)));
        yield return ("augment", Flag(!config.Augment.IsEmpty));
        yield return ("schedule", Flag(!config.Schedule.IsConstant));
        yield return ("stop_early", Flag(config.StopEarly is not null));
        yield return ("class_weights", Flag(trainPlan.ClassWeights is not null));
    }

    /// <summary>The settings rows that are yes/no (1 or 0 in stats.csv).</summary>
    public static readonly IReadOnlySet<string> FlagSettings = new HashSet<string> { "dropout", "batchnorm", "augment", "schedule", "stop_early", "class_weights" };

    /// <summary>The checkpoint metadata key that holds stats.csv as it was when the checkpoint was written.</summary>
    public const string CheckpointKey = "stats";

    /// <summary>Starts stats.csv with the run's settings and class counts (in the training images, and in the whole training
    /// set before the validation split and --limit, which the imbalance finding compares them with), or, resuming from <paramref name="checkpoint"/>,
    /// restores it from the checkpoint (or the run folder's, for a checkpoint written before statistics) and keeps the rows
    /// up to optimiser update <paramref name="resumedStep"/>.</summary>
    public void Start(string? checkpoint, long resumedStep, IEnumerable<(string Statistic, double Value)> settings, IReadOnlyList<string> classNames, int[] labels, int[] wholeSetLabels)
    {
        if (checkpoint is not null && SafeTensors.ReadMetadata(checkpoint).TryGetValue(CheckpointKey, out var saved)) File.WriteAllText(path, saved);
        if (checkpoint is not null && File.Exists(path)) { StatsFile.KeepUpTo(path, resumedStep); return; }
        var rows = settings.Select(s => new StatRow(0, 0, "run", s.Statistic, s.Value)).ToList();
        for (int k = 0; k < classNames.Count; k++)
        {
            rows.Add(new StatRow(0, 0, "class " + classNames[k], "train_count", labels.Count(l => l == k)));
            rows.Add(new StatRow(0, 0, "class " + classNames[k], "set_count", wholeSetLabels.Count(l => l == k)));
        }
        File.WriteAllLines(path, rows.Select(StatsFile.Line).Prepend(StatsFile.Header));
    }

    /// <summary>The loss of update <paramref name="t"/>, step <paramref name="step"/> (from 1) of the epoch. A loss that is not
    /// finite is always kept, and written at once: training is about to stop on it.</summary>
    public void Loss(int epoch, long t, int step, double loss)
    {
        if (step % every != 0 && step != batches && double.IsFinite(loss)) return;
        pending.Add(new StatRow(epoch, t, "run", "loss", loss));
        if (!double.IsFinite(loss)) Flush();
    }

    /// <summary>Whether step <paramref name="step"/> (from 1) of an epoch is the one measured: the last.</summary>
    public bool Measures(int step) => step == batches;

    /// <summary>Reads the weights and gradients of the measured step, before the optimiser changes them.</summary>
    public void BeforeUpdate()
    {
        before = layers.Select(l => parameters.Read(l.Weight)).ToArray();
        grads = layers.Select(l => parameters.Read(l.Weight + ".grad")).ToArray();
        biasGrads = layers.Select(l => l.Bias is null ? null : parameters.Read(l.Bias + ".grad")).ToArray();
    }

    /// <summary>Records the measured step's statistics once the optimiser has applied update <paramref name="t"/>.</summary>
    public void AfterUpdate(int epoch, long t)
    {
        if (before is null || grads is null) return;
        for (int i = 0; i < layers.Count; i++)
        {
            var (layer, weight, _, units) = layers[i];
            var w0 = before[i];
            var w1 = parameters.Read(weight);
            double norm = Norm(w0), change = 0;
            for (int j = 0; j < w0.Length; j++) change += (double)(w1[j] - w0[j]) * (w1[j] - w0[j]);
            var g = grads[i];
            // Without a bias, a unit's row of weight gradients (units first in both conv and dense weights) is the sign.
            var signs = biasGrads![i] ?? g;
            int per = signs.Length / units, dead = 0;
            for (int u = 0; u < units; u++)
                if (!signs.AsSpan(u * per, per).ContainsAnyExcept(0f)) dead++;
            pending.Add(new StatRow(epoch, t, layer, "weight_norm", norm));
            pending.Add(new StatRow(epoch, t, layer, "grad_norm", Norm(g)));
            pending.Add(new StatRow(epoch, t, layer, "update_ratio", norm > 0 ? Math.Sqrt(change) / norm : double.NaN));
            pending.Add(new StatRow(epoch, t, layer, "dead_fraction", (double)dead / units));
        }
        before = grads = null;
        biasGrads = null;
    }

    /// <summary>Records the validation recall per class and writes the epoch's rows.</summary>
    public void EndEpoch(int epoch, long t, Evaluation? validation, IReadOnlyList<string> classNames)
    {
        if (validation is not null)
            for (int k = 0; k < Math.Min(classNames.Count, validation.Confusion.GetLength(0)); k++)
            {
                int count = 0;
                for (int j = 0; j < validation.Confusion.GetLength(1); j++) count += validation.Confusion[k, j];
                if (epoch == 1) pending.Add(new StatRow(epoch, t, "class " + classNames[k], "val_count", count));
                if (count > 0) pending.Add(new StatRow(epoch, t, "class " + classNames[k], "val_recall", (double)validation.Confusion[k, k] / count));
            }
        Flush();
    }

    /// <summary>Records the test set's loss and accuracy after the last update.</summary>
    public void Test(int epoch, long t, Evaluation test)
    {
        pending.Add(new StatRow(epoch, t, "run", "test_loss", test.Loss));
        pending.Add(new StatRow(epoch, t, "run", "test_accuracy", test.Accuracy));
        Flush();
    }

    /// <summary>What a checkpoint keeps of the statistics: stats.csv up to now, so a resumed run has them even where the
    /// run folder's copy is gone or ran ahead of the checkpoint.</summary>
    public IReadOnlyDictionary<string, string> Checkpointed()
    {
        Flush();
        return new Dictionary<string, string> { [CheckpointKey] = File.ReadAllText(path) };
    }

    /// <summary>Writes what is gathered so far (a cancelled epoch's step losses, before its checkpoint).</summary>
    public void Flush()
    {
        if (pending.Count == 0) return;
        File.AppendAllLines(path, pending.Select(StatsFile.Line));
        pending.Clear();
    }

    static double Norm(float[] v)
    {
        double sum = 0;
        foreach (var x in v) sum += (double)x * x;
        return Math.Sqrt(sum);
    }
}
