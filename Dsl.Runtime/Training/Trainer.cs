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
    /// <exception cref="ArgumentOutOfRangeException">Set below 0.</exception>
    public int? Epochs { get => epochs; init => epochs = value is < 0 ? throw Below(nameof(Epochs), value, 0) : value; }
    /// <exception cref="ArgumentOutOfRangeException">Set below 1.</exception>
    public int? Batch { get => batch; init => batch = value is < 1 ? throw Below(nameof(Batch), value, 1) : value; }
    public int? Seed { get; init; }
    /// <summary>Train on at most this many images (a quick run).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Set below 1.</exception>
    public int? Limit { get => limit; init => limit = value is < 1 ? throw Below(nameof(Limit), value, 1) : value; }
    /// <summary>Overrides the train block's `init` scheme.</summary>
    public InitScheme? Init { get; init; }
    /// <summary>The run folder: metrics.csv, checkpoints and the weights are written there.</summary>
    public required string OutputDirectory { get => outputDirectory; init => outputDirectory = value ?? throw new ArgumentNullException(nameof(OutputDirectory)); }
    /// <summary>Continue from the run folder's last checkpoint (from the beginning when it has none yet).</summary>
    public bool Resume { get; init; }
    /// <summary>Batch size of evaluation passes.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Set below 1.</exception>
    public int EvalBatch { get => evalBatch; init => evalBatch = value < 1 ? throw Below(nameof(EvalBatch), value, 1) : value; }
    /// <summary>Measure the layers' weights and gradients once an epoch for the diagnosis (off only to measure its cost).</summary>
    public bool Statistics { get; init; } = true;
    /// <summary>Hears what the run decides on its own (resuming from where, a setting changed since the checkpoint).</summary>
    public Action<string>? Log { get; init; }

    string outputDirectory = "";
    int? epochs, batch, limit;
    int evalBatch = 256;

    // Refused where it is set, naming the option: a 0 used to surface later as a DivideByZeroException.
    static ArgumentOutOfRangeException Below(string option, int? value, int least) =>
        new(option, value, $"TrainOptions.{option} must be at least {least}, got {value}");
    /// <summary>The processes of a data-parallel job (mpirun), each training its shard of every batch; null: this process alone.</summary>
    public Distributed.Communicator? Communicator { get; init; }
    /// <summary>In a job of several processes, batch norms normalise over the whole global batch, their statistics summed
    /// over the processes (PyTorch's SyncBatchNorm), instead of over each process's shard.</summary>
    public bool SyncBatchNorm { get; init; }
    /// <summary>A job's gradient buckets and whether their allreduce overlaps the backward pass.</summary>
    public Distributed.AllreduceSettings Allreduce { get; init; } = Distributed.AllreduceSettings.Default;
}

/// <summary>Where training is: a step inside an epoch, or an epoch's end. In the validation and test passes
/// (<see cref="Phase"/> "validation" or "test") Step and Steps count images.</summary>
public sealed record TrainProgress(int Epoch, int Epochs, int Step, int Steps, double Loss, double ImagesPerSecond, EpochResult? Finished)
{
    /// <summary>"train", "validation" or "test".</summary>
    public string Phase { get; init; } = "train";
}

public sealed record EpochResult(int Epoch, double TrainLoss, double TrainAccuracy, double ValLoss, double ValAccuracy, double ValTop5,
    double LearningRate, double Seconds);

/// <summary>Loss and accuracies over a set; <see cref="Confusion"/>[true, predicted] counts.</summary>
public sealed record Evaluation(double Loss, double Accuracy, double Top5, int Count, int[,] Confusion)
{
    /// <summary>Images for which the network produced NaN or infinity: counted wrong, left out of the confusion matrix.</summary>
    public int NotFinite { get; init; }

    /// <summary>A sentence for a report when the network produced NaN; null when it did not.</summary>
    public string? NotFiniteWarning => NotFinite == 0 ? null
        : $"the network produced NaN or infinity for {NotFinite} of {Count} images; they count as wrong (the weights or the input normalisation are broken)";
}

/// <summary>What a run did. <see cref="Test"/> is null when the run was cancelled: a signal stops it within a step,
/// without the test pass (a resumed run that has no epochs left runs it).</summary>
public sealed record TrainResult(IReadOnlyList<EpochResult> Epochs, Evaluation? Test, string WeightsPath, string? StoppedBecause,
    IReadOnlyList<string> Pictures);

/// <summary>The loss became NaN or infinite; the message says where, and the last good weights are saved.</summary>
public sealed class TrainingDivergedException(string message) : Exception(message);

/// <summary>Trains an inferred network on a device as its train block says.</summary>
public sealed class Trainer : IDisposable
{
    readonly Shapes.Inferred network;
    readonly TrainConfig config;
    readonly TrainOptions options;
    readonly int batch, epochs, seed;
    readonly ParameterSet parameters;
    readonly IStepRunner train, eval;
    readonly Distributed.DataParallel sync;
    /// <summary>Whether a Run of this trainer has written its folder: later Runs train on in it, as one program's own
    /// run; the first refuses a folder holding another run's results.</summary>
    bool folderClaimed;

    public Trainer(Shapes.Inferred network, TrainConfig config, IDevice device, TrainOptions options)
    {
        this.network = network;
        this.config = config;
        this.options = options;
        batch = options.Batch ?? config.Batch;
        epochs = options.Epochs ?? config.Epochs;
        seed = options.Seed ?? config.Seed;
        if (batch < 1) throw new ArgumentException("batch must be at least 1");
        if (epochs < 0) throw new ArgumentException("epochs must not be negative");
        if (!network.Layers.Last().Node.Layer.IsSoftmax)
            throw new ArgumentException($"network {network.Network.Name} does not end with softmax; training needs it for the loss");
        var comm = options.Communicator ?? new Distributed.SingleProcess();
        var trainPlan = MemoryPlan.compile(PlanMode.Training, Distributed.DataParallel.LocalBatchOf(batch, comm.Size), network);
        parameters = new ParameterSet(device, trainPlan, seed, config.Optimizer);
        // A step that does not fit (or a bad `init from` file) must not leave the parameters allocated behind it.
        try
        {
            parameters.Initialize(options.Init ?? config.Init.Scheme);
            if (config.Init.From?.Value is string from) InitReport = parameters.LoadMatching(SafeTensors.Read(from).tensors);
            train = device.Load(trainPlan, parameters);
            try
            {
                eval = LoadEval(device, options.EvalBatch);
                sync = new Distributed.DataParallel(comm, parameters, batch, options.Allreduce);
                sync.Attach(train, device, options.Log, options.SyncBatchNorm);
                sync.CheckSame(0, "after initialisation", now: true);
            }
            catch { sync?.Dispose(); train.Dispose(); eval?.Dispose(); throw; }
        }
        catch
        {
            parameters.Dispose();
            throw;
        }
    }

    /// <summary>The inference plan for validation and test. Its batch only sets the pace, so where it does not fit beside
    /// the training step a half of it is tried, down to 1: a memory message always concerns the training batch.</summary>
    IStepRunner LoadEval(IDevice device, int evalBatch)
    {
        try { return device.Load(MemoryPlan.compile(PlanMode.Inference, evalBatch, network), parameters); }
        catch (DeviceException) when (evalBatch > 1) { return LoadEval(device, evalBatch / 2); }
    }

    public ParameterSet Parameters => parameters;

    /// <summary>Held for writing whenever the weights, the normalisation or the class names change; predictions that
    /// share <see cref="Parameters"/> hold it for reading.</summary>
    internal WeightsGate Gate { get; } = new();
    public int BatchSize => batch;

    /// <summary>The input normalisation and class names of the last <see cref="Run"/>; null before one.</summary>
    public (float[] mean, float[] std)? Statistics { get; private set; }
    public IReadOnlyList<string>? ClassNames { get; private set; }

    /// <summary>Saves the weights with what prediction needs (normalisation, class names).</summary>
    public void SaveWeights(string path) => SaveWeights(path, Snapshot());

    /// <summary>Takes the weights (and the normalisation and class names, when recorded) from a weights file.</summary>
    public InitReport LoadWeights(string path)
    {
        var (tensors, meta) = SafeTensors.Read(path);
        using var writing = Gate.Writing();
        var report = parameters.LoadMatching(tensors);
        if (meta.ContainsKey("mean"))
        {
            metadata = meta;
            Statistics = WeightsFile.Statistics(meta, path);
            ClassNames = WeightsFile.Classes(meta, train.Plan.Classes);
        }
        return report;
    }

    /// <summary>What `init from` loaded and skipped; null without it.</summary>
    public InitReport? InitReport { get; }

    /// <summary>Runs the epochs, evaluates on the test set, writes metrics.csv, checkpoints and weights.safetensors
    /// into the run folder. Cancelling stops after the current step (or the current batch of a validation or test pass)
    /// and leaves a checkpoint to resume from; the test pass and the pictures are then left out. The first Run (unless
    /// resuming) refuses a folder that holds another run, finished or not, or other files (<see cref="OutputException"/>).</summary>
    public TrainResult Run(ImageSet trainSet, ImageSet testSet, IProgress<TrainProgress>? progress = null, CancellationToken cancel = default)
    {
        var dir = options.OutputDirectory;
        using var folder = sync.Writes ? Output.RunFolder.Lock(dir) : null;
        // The command line locks and checks the folder before it writes the run's files; a program calling this locks it here.
        if (folder is { Owned: true } && !options.Resume && !folderClaimed) Output.RunFolder.CheckHoldsNoRun(dir);
        folderClaimed = true;
        var (c, h, w) = network.Network.Input switch
        {
            Shape.Chw s => (s.c, s.h, s.w),
            var s => (1, 1, s.Elements),
        };
        int classes = train.Plan.Classes, imageFloats = c * h * w;
        if (trainSet.Classes > classes)
            throw new DataException($"the data has {trainSet.Classes} classes but the network's last layer has {classes} outputs; write `dense classes` or pass --classes {trainSet.Classes}");
        var (fit, validation) = Split(trainSet);
        if (fit.Count < batch) throw new DataException($"only {fit.Count} training images for a batch of {batch}; lower --batch or raise --limit");
        var stats = Transform.Statistics(fit, config.Normalize);
        var transform = new Transform(fit, c, h, w, config, stats);
        using (Gate.Writing())
        {
            metadata = WeightsFile.Metadata(network.Network.Name, stats, trainSet.ClassNames);
            Statistics = stats;
            ClassNames = trainSet.ClassNames;
            WriteClassWeights(fit, classes);
        }
        var sampleOrder = new Data.SampleOrder(fit, config.Order, seed);

        var optimizer = config.Optimizer;
        double lr0 = optimizer switch { Optimizer.Sgd s => s.lr, Optimizer.Adam a => a.lr, Optimizer.RmsProp r => r.lr, _ => 0.01 };
        var lr = new LearningRate(lr0, config.Schedule, epochs);
        var csv = Path.Combine(dir, "metrics.csv");
        var state = new LoopState { LearningRate = lr0, BaseLearningRate = lr0 };
        var last = Path.Combine(dir, Checkpoints.Latest);
        var metrics = new List<string> { "epoch,train_loss,train_accuracy,val_loss,val_accuracy,val_top5,learning_rate,seconds" };
        // A run killed before its first checkpoint has nothing whole to continue from: it starts over.
        if (options.Resume && File.Exists(last))
        {
            using (Gate.Writing()) state = Checkpoints.Load(last, parameters);
            options.Log?.Invoke($"resuming from {last}: {state.Epoch} epochs done" + (state.BatchesDone > 0 ? $" and {state.BatchesDone} batches of epoch {state.Epoch + 1}" : ""));
            double restored = state.LearningRate;
            // An edited learning rate in the model file is used: the schedule's position is kept, its scale changes.
            if (state.BaseLearningRate > 0 && state.BaseLearningRate != lr0)
            {
                restored = state.LearningRate * lr0 / state.BaseLearningRate;
                options.Log?.Invoke($"the model file's learning rate is now {lr0:G4} (the checkpoint's run started at {state.BaseLearningRate:G4}): continuing at {restored:G4}");
            }
            state = state with { BaseLearningRate = lr0 };
            // A cosine spans the run: with another number of epochs it is recomputed over the new length from where the
            // run stands (the same rate when the length is unchanged).
            if (lr.LengthDependentRate(state.Epoch) is double spanned && Math.Abs(spanned - restored) > 1e-9 * lr0)
            {
                options.Log?.Invoke($"the cosine schedule now spans {epochs} epochs: after {state.Epoch} done its learning rate is {spanned:G4} (the checkpoint's was {restored:G4})");
                restored = spanned;
            }
            lr.Restore(restored, state.PlateauBest, state.PlateauWait);
            // The rows after the checkpoint's epoch belong to work that is about to be redone.
            if (File.Exists(csv)) metrics = File.ReadAllLines(csv).Take(1 + state.Epoch).ToList();
        }
        else if (options.Resume) options.Log?.Invoke($"{dir} has no checkpoint ({Checkpoints.Latest}) yet: starting from the beginning");
        // Rewritten whole through a temporary file each epoch (it is small): never half a row, never two runs' rows.
        void WriteMetrics() { if (sync.Writes) Output.AtomicFile.WriteText(csv, string.Join("\n", metrics) + "\n"); }
        WriteMetrics();
        sync.CheckSame(state.Step, options.Resume ? "after resuming" : "before the first step", now: true);
        var statistics = sync.Writes ? new RunStatistics(dir, network, train.Plan, parameters, fit.Count / batch) : null;
        statistics?.Start(options.Resume && File.Exists(last) ? last : null, state.Step, RunStatistics.Settings(network, config, train.Plan, lr0, batch, epochs, fit.Count, validation.Count), trainSet.ClassNames, fit.Labels, trainSet.Labels);

        if (sync.Describe() is string job) options.Log?.Invoke(job);
        var results = new List<EpochResult>();
        var probs = new float[sync.LocalBatch * classes];
        var weightsPath = Path.Combine(dir, "weights.safetensors");
        var lastGood = Snapshot();
        List<(string, float[])>? best = null;
        string? stopped = null;

        // Cancelled inside an epoch: the checkpoint keeps the batches done (all of them when only validation was left),
        // and `--resume` goes on from there.
        void Interrupt(int epoch, int step, long t, double lossSum, long correct, long seen, string where)
        {
            sync.AverageRunningStatistics();
            state = state with { Epoch = epoch - 1, BatchesDone = step, Step = t, LossSum = lossSum, Correct = correct, Seen = seen };
            if (statistics is not null)
            {
                statistics.Flush();
                Checkpoints.Save(Path.Combine(dir, Checkpoints.Latest), parameters, state, network.Network.Name, statistics.Checkpointed());
            }
            stopped = $"cancelled at epoch {epoch}, {where}; `--resume` continues from there";
        }

        for (int epoch = state.Epoch + 1; epoch <= epochs && stopped is null; epoch++)
        {
            // Between epochs the last checkpoint is the previous epoch's end (or, before any step, there is nothing to keep).
            if (sync.AnyOf(cancel.IsCancellationRequested))
            {
                stopped = $"cancelled before epoch {epoch}; `--resume` continues from there";
                break;
            }
            var clock = Stopwatch.StartNew();
            var order = sampleOrder.For(epoch);
            int resumeAt = state.BatchesDone;
            using var pipe = new BatchPipeline(fit, transform, batch, imageFloats, order, dropLast: true, augmentSeed: Seeds.Mix(seed, epoch, 17), firstBatch: resumeAt,
                shards: sync.Communicator.Size, shard: sync.Communicator.Rank);
            double lossSum = state.LossSum;
            long correct = state.Correct, seen = state.Seen, t = state.Step;
            int step = resumeAt;
            foreach (var b in pipe.Read())
            {
                double loss;
                long hits;
                // Predictions sharing these parameters wait for the step's update: they see the weights before or after it.
                using (Gate.Writing())
                {
                    train.SetBatch(b.Images, b.Labels);
                    double localLoss = train.Run(t);
                    train.ReadProbabilities(probs);
                    // Every process leaves this with the averaged gradients and the same loss.
                    (loss, hits) = sync.Step(localLoss, Evaluator.TopK(probs, sync.LocalBatch, classes, b.Labels, 1));
                    statistics?.Loss(epoch, t + 1, step + 1, loss);
                    if (double.IsFinite(loss))
                    {
                        bool measured = options.Statistics && statistics is not null && statistics.Measures(step + 1);
                        if (measured) statistics!.BeforeUpdate();
                        train.Update(optimizer, lr.Current, ++t);
                        if (measured) statistics!.AfterUpdate(epoch, t);
                    }
                }
                if (!double.IsFinite(loss))
                {
                    if (sync.Writes) SaveWeights(weightsPath, lastGood);
                    throw new TrainingDivergedException(
                        $"the loss became {loss} at epoch {epoch}, step {step + 1}; the weights from the end of epoch {epoch - 1} are in {weightsPath}. " +
                        "Lower the learning rate, or add batchnorm.");
                }
                sync.CheckSame(t, $"after update {t}");
                correct += hits;
                pipe.Release(b);
                seen += batch;
                lossSum += loss;
                step++;
                progress?.Report(new TrainProgress(epoch, epochs, step, pipe.Batches, lossSum / step, (seen - state.Seen) / clock.Elapsed.TotalSeconds, null));
                if (sync.AnyOf(cancel.IsCancellationRequested))
                {
                    Interrupt(epoch, step, t, lossSum, correct, seen, $"step {step}");
                    break;
                }
            }
            if (stopped is not null) break;
            double trainSeconds = clock.Elapsed.TotalSeconds;
            sync.AverageRunningStatistics();
            Evaluation? val = null;
            try { val = validation.Count > 0 ? Evaluate(validation, transform, progress, "validation", epoch, cancel) : null; }
            catch (OperationCanceledException)
            {
                Interrupt(epoch, step, t, lossSum, correct, seen, "during validation");
                break;
            }
            var result = new EpochResult(epoch, lossSum / Math.Max(1, step), (double)correct / Math.Max(1, seen), val?.Loss ?? double.NaN,
                val?.Accuracy ?? double.NaN, val?.Top5 ?? double.NaN, lr.Current, clock.Elapsed.TotalSeconds);
            results.Add(result);
            statistics?.EndEpoch(epoch, t, val, trainSet.ClassNames);
            metrics.Add(string.Join(",", new object[] { epoch, result.TrainLoss, result.TrainAccuracy, result.ValLoss, result.ValAccuracy,
                result.ValTop5, result.LearningRate, result.Seconds }.Select(v => Convert.ToString(v, CultureInfo.InvariantCulture))));
            WriteMetrics();
            // Throughput of the training steps alone; the epoch's seconds include validation.
            progress?.Report(new TrainProgress(epoch, epochs, step, pipe.Batches, result.TrainLoss, (seen - state.Seen) / trainSeconds, result));
            lastGood = Snapshot();

            lr.EndEpoch(epoch, Monitored(config.Schedule is Schedule.ReduceOnPlateau p ? p.monitor : Monitor.ValLoss, result));
            double earlyBest = state.EarlyBest, bestCheckpoint = state.BestCheckpoint;
            int sinceBest = state.SinceBest;
            if (config.StopEarly?.Value is { } se)
            {
                double m = Monitored(se.Monitor, result);
                if (m < earlyBest) { earlyBest = m; sinceBest = 0; if (se.RestoreBest) best = lastGood; }
                else if (++sinceBest > se.Patience) stopped = $"no improvement for {se.Patience} epochs (early stopping)";
            }
            sync.CheckSame(t, $"at the end of epoch {epoch}", now: true);
            switch (sync.Writes ? config.Checkpoint?.Value : null)
            {
                case Checkpoint.EveryEpochs e when epoch % e.Item == 0:
                    SaveWeights(Path.Combine(dir, $"checkpoint-epoch{epoch:D3}.safetensors"), lastGood);
                    break;
                case { IsBestOnly: true } when Monitored(Monitor.ValLoss, result) is var valLoss && valLoss < bestCheckpoint:
                    bestCheckpoint = valLoss;
                    SaveWeights(Path.Combine(dir, "best.safetensors"), lastGood);
                    break;
            }
            var (pb, pw) = lr.Plateau;
            state = new LoopState { Epoch = epoch, Step = t, LearningRate = lr.Current, BaseLearningRate = lr0, PlateauBest = pb, PlateauWait = pw,
                EarlyBest = earlyBest, SinceBest = sinceBest, BestCheckpoint = bestCheckpoint };
            if (statistics is not null)
                Checkpoints.Save(Path.Combine(dir, Checkpoints.Latest), parameters, state, network.Network.Name, statistics.Checkpointed());
        }
        if (best is not null)
            using (Gate.Writing())
                foreach (var (name, values) in best) parameters.Write(name, values);
        if (sync.Writes) SaveWeights(weightsPath, best ?? Snapshot());
        Evaluation? test = null;
        IReadOnlyList<string> pictures = [];
        if (sync.AnyOf(cancel.IsCancellationRequested)) stopped ??= "cancelled before the test pass; `--resume` runs it";
        else
        {
            try
            {
                test = Evaluate(testSet, transform, progress, "test", epochs, cancel);
                statistics?.Test(epochs, state.Step, test);
                pictures = sync.Writes ? WritePictures(test, testSet.ClassNames) : [];
            }
            // The checkpoint is the last epoch's end: `--resume` has no epoch left and runs the test pass.
            catch (OperationCanceledException) { stopped = "cancelled during the test pass; `--resume` runs it"; }
        }
        if (sync.Writes) Output.RunReport.Write(dir);
        if (sync.Describe() is string cost) options.Log?.Invoke(cost);
        return new TrainResult(results, test, weightsPath, stopped, pictures);
    }

    /// <summary>The images a run trains on (after the validation split and --limit) and validates on.</summary>
    (ImageSet fit, ImageSet validation) Split(ImageSet trainSet)
    {
        var (fit, validation) = trainSet.Split(config.Data?.Value.Validation ?? 0.1, seed);
        return (options.Limit is int limit ? fit.Take(limit, seed) : fit, validation);
    }

    /// <summary>How many images of <paramref name="trainSet"/> a run trains on and validates on.</summary>
    public (int Training, int Validation) Images(ImageSet trainSet)
    {
        var (fit, validation) = Split(trainSet);
        return (fit.Count, validation.Count);
    }

    /// <summary>curves.png/.svg, filters.png (the first convolution's filters, as in the AlexNet paper's figure 3) and confusion.png.</summary>
    IReadOnlyList<string> WritePictures(Evaluation test, IReadOnlyList<string> classNames)
    {
        var conv = network.Layers.FirstOrDefault(l => l.Node.Layer.IsConv);
        float[]? filters = null;
        int[]? shape = null;
        if (conv is { Node.Layer: Layer.Conv { Item: var spec } })
        {
            filters = parameters.Read(conv.Node.Name + ".weight");
            shape = [spec.Filters, ((Shape.Chw)conv.Input).c / spec.Groups, spec.Kernel.Item1, spec.Kernel.Item2];
        }
        return Output.RunPictures.Write(options.OutputDirectory, filterWeights: filters, filterShape: shape, confusion: test.Confusion, classNames: classNames);
    }

    /// <summary>The loss's class weights: inverse frequency for `balanced` (n / (classes * count)), or as written.</summary>
    void WriteClassWeights(ImageSet fit, int classes)
    {
        var plan = train.Plan;
        if (plan.ClassWeights is null) return;
        var weights = config.ClassWeights switch
        {
            ClassWeights.Explicit e when e.Item.Length != classes =>
                throw new DataException($"class-weights lists {e.Item.Length} weights for {classes} classes"),
            ClassWeights.Explicit e => e.Item.Select(v => (float)v).ToArray(),
            _ => Enumerable.Range(0, classes).Select(k =>
            {
                int count = fit.Labels.Count(l => l == k);
                return count == 0 ? 0f : (float)(fit.Count / (double)(classes * count));
            }).ToArray(),
        };
        parameters.Write(plan.Buffers[plan.ClassWeights.Value].Name, weights);
    }

    static double Monitored(Monitor m, EpochResult r) => m switch
    {
        { IsValAccuracy: true } => -r.ValAccuracy,
        { IsTrainLoss: true } => r.TrainLoss,
        _ => double.IsNaN(r.ValLoss) ? r.TrainLoss : r.ValLoss,
    };

    /// <summary>Loss, top-1 and top-5 accuracy and the confusion matrix over a whole set, in inference mode
    /// (no dropout, running batch-norm statistics).</summary>
    public Evaluation Evaluate(ImageSet set, Transform transform) => Evaluator.Run(eval, set, transform);

    /// <summary>Evaluates split over the job's processes; progress counts the whole set, as this process's share scaled.
    /// Processes evaluating together finish the pass: a stop there is not agreed between them, so only one process
    /// alone stops inside it.</summary>
    Evaluation Evaluate(ImageSet set, Transform transform, IProgress<TrainProgress>? progress, string phase, int epoch, CancellationToken cancel)
    {
        var clock = Stopwatch.StartNew();
        var token = sync.Communicator.Size > 1 ? CancellationToken.None : cancel;
        return sync.Evaluate(set, train.Plan.Classes, part => Evaluator.Run(eval, part, transform, progress is null ? null : (done, total) =>
        {
            int all = (int)((long)done * set.Count / total);
            progress.Report(new TrainProgress(epoch, epochs, all, set.Count, double.NaN, all / clock.Elapsed.TotalSeconds, null) { Phase = phase });
        }, token));
    }

    List<(string, float[])> Snapshot() => parameters.Weights.Select(name => (name, parameters.Read(name))).ToList();

    Dictionary<string, string> metadata = new();

    void SaveWeights(string path, List<(string, float[])> weights) => SafeTensors.Save(path, weights, metadata, parameters.ShapeOf);

    public void Dispose()
    {
        sync.Dispose();
        train.Dispose();
        eval.Dispose();
        parameters.Dispose();
        Gate.Dispose();
    }
}
