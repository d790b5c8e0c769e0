using System.Diagnostics;
using System.Globalization;
using Dsl.Compiler;
using Dsl.Core;
using Dsl.Runtime.Data;
using Monitor = Dsl.Core.Monitor;

namespace Dsl.Runtime;

/// <summary>Settings of one training run that the command line may override.</summary>
public sealed record TrainOptions
{
    public int? Epochs { get; init; }
    public int? Batch { get; init; }
    public int? Seed { get; init; }
    /// <summary>Train on at most this many images (a quick run).</summary>
    public int? Limit { get; init; }
    public InitScheme Init { get; init; } = InitScheme.He;
    /// <summary>The run folder: metrics.csv and the weights are written there.</summary>
    public required string OutputDirectory { get; init; }
    /// <summary>Batch size of evaluation passes.</summary>
    public int EvalBatch { get; init; } = 256;
}

/// <summary>Where training is: a step inside an epoch, or an epoch's end.</summary>
public sealed record TrainProgress(int Epoch, int Epochs, int Step, int Steps, double Loss, double ImagesPerSecond, EpochResult? Finished);

public sealed record EpochResult(int Epoch, double TrainLoss, double TrainAccuracy, double ValLoss, double ValAccuracy, double ValTop5,
    double LearningRate, double Seconds);

public sealed record Evaluation(double Loss, double Accuracy, double Top5, int Count);

public sealed record TrainResult(IReadOnlyList<EpochResult> Epochs, Evaluation Test, string WeightsPath, string? StoppedBecause);

/// <summary>The loss became NaN or infinite; the message says where, and the last good weights are saved.</summary>
public sealed class TrainingDivergedException(string message) : Exception(message);

/// <summary>Trains an inferred network on a device as its train block says.</summary>
public sealed class Trainer : IDisposable
{
    readonly Shapes.Inferred network;
    readonly TrainConfig config;
    readonly IDevice device;
    readonly TrainOptions options;
    readonly int batch, epochs, seed;
    readonly ParameterSet parameters;
    readonly IStepRunner train, eval;

    public Trainer(Shapes.Inferred network, TrainConfig config, IDevice device, TrainOptions options)
    {
        this.network = network;
        this.config = config;
        this.device = device;
        this.options = options;
        batch = options.Batch ?? config.Batch;
        epochs = options.Epochs ?? config.Epochs;
        seed = options.Seed ?? config.Seed;
        if (batch < 1) throw new ArgumentException("batch must be at least 1");
        if (epochs < 0) throw new ArgumentException("epochs must not be negative");
        if (!config.Order.IsShuffle)
            throw new ArgumentException($"sample order `{config.Order}` is not supported in this version; remove the `order` line or use `order shuffle`");
        if (!network.Layers.Last().Node.Layer.IsSoftmax)
            throw new ArgumentException($"network {network.Network.Name} does not end with softmax; training needs it for the loss");
        var trainPlan = MemoryPlan.compile(PlanMode.Training, batch, network);
        parameters = new ParameterSet(device, trainPlan, seed);
        parameters.Initialize(options.Init);
        train = device.Load(trainPlan, parameters);
        eval = device.Load(MemoryPlan.compile(PlanMode.Inference, options.EvalBatch, network), parameters);
    }

    public ParameterSet Parameters => parameters;
    public int BatchSize => batch;

    /// <summary>Runs every epoch, evaluates on the test set, writes metrics.csv and weights.safetensors into the run folder.</summary>
    public TrainResult Run(ImageSet trainSet, ImageSet testSet, IProgress<TrainProgress>? progress = null, CancellationToken cancel = default)
    {
        Directory.CreateDirectory(options.OutputDirectory);
        var (c, h, w) = network.Network.Input switch
        {
            Shape.Chw s => (s.c, s.h, s.w),
            var s => (1, 1, s.Elements),
        };
        var classes = train.Plan.Classes;
        if (trainSet.Classes > classes)
            throw new DataException($"the data has {trainSet.Classes} classes but the network's last layer has {classes} outputs; write `dense classes` or pass --classes {trainSet.Classes}");
        var validationFraction = config.Data?.Value.Validation ?? 0.1;
        var (fit, validation) = trainSet.Split(validationFraction, seed);
        if (options.Limit is int limit) fit = fit.Take(limit, seed);
        if (fit.Count < batch) throw new DataException($"only {fit.Count} training images for a batch of {batch}; lower --batch or raise --limit");
        var stats = Transform.Statistics(fit, config.Normalize);
        var transform = new Transform(fit, c, h, w, config, stats);
        int imageFloats = c * h * w;
        var optimizer = config.Optimizer;
        double lr0 = optimizer switch { Optimizer.Sgd s => s.lr, Optimizer.Adam a => a.lr, Optimizer.RmsProp r => r.lr, _ => 0.01 };
        var lr = new LearningRate(lr0, config.Schedule, epochs);
        var results = new List<EpochResult>();
        var probs = new float[batch * classes];
        long t = 0;
        string? stopped = null;
        var weightsPath = Path.Combine(options.OutputDirectory, "weights.safetensors");
        var csv = Path.Combine(options.OutputDirectory, "metrics.csv");
        File.WriteAllText(csv, "epoch,train_loss,train_accuracy,val_loss,val_accuracy,val_top5,learning_rate,seconds\n");
        var lastGood = Snapshot();
        double best = double.PositiveInfinity;
        int sinceBest = 0;

        for (int epoch = 1; epoch <= epochs && stopped is null; epoch++)
        {
            var clock = Stopwatch.StartNew();
            var order = Enumerable.Range(0, fit.Count).ToArray();
            new Random(Seeds.Int(seed, epoch)).Shuffle(order);
            using var pipe = new BatchPipeline(fit, transform, batch, imageFloats, order, dropLast: true, augmentSeed: Seeds.Mix(seed, epoch, 17));
            double lossSum = 0;
            long correct = 0, seen = 0;
            int step = 0;
            foreach (var b in pipe.Read())
            {
                train.SetBatch(b.Images, b.Labels);
                double loss = train.Run(t);
                if (!double.IsFinite(loss))
                {
                    SaveWeights(weightsPath, lastGood);
                    throw new TrainingDivergedException(
                        $"the loss became {loss} at epoch {epoch}, step {step + 1}; the weights from the end of epoch {epoch - 1} are in {weightsPath}. " +
                        "Lower the learning rate, or add batchnorm.");
                }
                train.Update(optimizer, lr.Current, ++t);
                train.ReadProbabilities(probs);
                correct += Correct(probs, train.Plan.Batch, classes, b.Labels, 1);
                pipe.Release(b);
                seen += batch;
                lossSum += loss;
                step++;
                progress?.Report(new TrainProgress(epoch, epochs, step, pipe.Batches, lossSum / step, seen / clock.Elapsed.TotalSeconds, null));
                if (cancel.IsCancellationRequested) { stopped = "cancelled"; break; }
            }
            var val = validation.Count > 0 ? Evaluate(validation, transform, imageFloats) : new Evaluation(double.NaN, double.NaN, double.NaN, 0);
            var result = new EpochResult(epoch, lossSum / Math.Max(1, step), (double)correct / Math.Max(1, seen), val.Loss, val.Accuracy, val.Top5,
                lr.Current, clock.Elapsed.TotalSeconds);
            results.Add(result);
            File.AppendAllText(csv, string.Join(",", new object[] { epoch, result.TrainLoss, result.TrainAccuracy, result.ValLoss, result.ValAccuracy,
                result.ValTop5, result.LearningRate, result.Seconds }.Select(v => Convert.ToString(v, CultureInfo.InvariantCulture))) + "\n");
            progress?.Report(new TrainProgress(epoch, epochs, step, pipe.Batches, result.TrainLoss, seen / clock.Elapsed.TotalSeconds, result));
            lastGood = Snapshot();
            SaveCheckpoint(epoch, result);
            double monitored = Monitored(config.StopEarly?.Value.Monitor ?? Monitor.ValLoss, result);
            lr.EndEpoch(epoch, Monitored(config.Schedule is Schedule.ReduceOnPlateau p ? p.monitor : Monitor.ValLoss, result));
            if (config.StopEarly?.Value is { } se)
            {
                if (monitored < best) { best = monitored; sinceBest = 0; }
                else if (++sinceBest > se.Patience) stopped = $"no improvement for {se.Patience} epochs (early stopping)";
            }
        }
        SaveWeights(weightsPath, lastGood);
        return new TrainResult(results, Evaluate(testSet, transform, imageFloats), weightsPath, stopped);
    }

    static double Monitored(Monitor m, EpochResult r) => m switch
    {
        { IsValAccuracy: true } => -r.ValAccuracy,
        { IsTrainLoss: true } => r.TrainLoss,
        _ => double.IsNaN(r.ValLoss) ? r.TrainLoss : r.ValLoss,
    };

    /// <summary>How many of the first <paramref name="count"/> examples have their label among the k most probable classes.</summary>
    static long Correct(float[] probs, int count, int classes, int[] labels, int k)
    {
        long hits = 0;
        for (int i = 0; i < count; i++)
        {
            var row = probs.AsSpan(i * classes, classes);
            float p = row[labels[i]];
            int greater = 0;
            foreach (var q in row) if (q > p) greater++;
            if (greater < k) hits++;
        }
        return hits;
    }

    /// <summary>Loss, top-1 and top-5 accuracy over a whole set, in inference mode (no dropout, running batch-norm statistics).</summary>
    public Evaluation Evaluate(ImageSet set, Transform transform, int imageFloats)
    {
        int n = eval.Plan.Batch, classes = eval.Plan.Classes;
        var probs = new float[n * classes];
        double loss = 0;
        long top1 = 0, top5 = 0;
        using var pipe = new BatchPipeline(set, transform, n, imageFloats, Enumerable.Range(0, set.Count).ToArray(), dropLast: false, augmentSeed: null);
        foreach (var b in pipe.Read())
        {
            eval.SetBatch(b.Images, b.Labels);
            int count = b.Count;
            var labels = b.Labels;
            eval.Run(0);
            eval.ReadProbabilities(probs);
            for (int i = 0; i < count; i++) loss -= Math.Log(Math.Max(probs[i * classes + labels[i]], 1e-30f));
            top1 += Correct(probs, count, classes, labels, 1);
            top5 += Correct(probs, count, classes, labels, Math.Min(5, classes));
            pipe.Release(b);
        }
        return new Evaluation(loss / set.Count, (double)top1 / set.Count, (double)top5 / set.Count, set.Count);
    }

    double bestCheckpoint = double.PositiveInfinity;

    /// <summary>Weights at an epoch's end, as the train block's `checkpoint` says: every N epochs, or the best by validation loss.</summary>
    void SaveCheckpoint(int epoch, EpochResult result)
    {
        switch (config.Checkpoint?.Value)
        {
            case Checkpoint.EveryEpochs e when epoch % e.Item == 0:
                SaveWeights(Path.Combine(options.OutputDirectory, $"checkpoint-epoch{epoch:D3}.safetensors"), Snapshot());
                break;
            case { IsBestOnly: true } when Monitored(Monitor.ValLoss, result) < bestCheckpoint:
                bestCheckpoint = Monitored(Monitor.ValLoss, result);
                SaveWeights(Path.Combine(options.OutputDirectory, "best.safetensors"), Snapshot());
                break;
        }
    }

    List<(string, float[])> Snapshot() => parameters.Persistent.Select(name => (name, parameters.Read(name))).ToList();

    void SaveWeights(string path, List<(string, float[])> weights) =>
        SafeTensors.Save(path, weights, new Dictionary<string, string> { ["network"] = network.Network.Name, ["format"] = "dsl" });

    public void Dispose()
    {
        train.Dispose();
        eval.Dispose();
        parameters.Dispose();
    }
}
