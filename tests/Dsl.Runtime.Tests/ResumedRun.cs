using Dsl.Compiler;
using Dsl.Runtime.Cpu;
using Dsl.Runtime.Data;

namespace Dsl.Runtime.Tests;

/// <summary>One network trained twice on the CPU into fresh folders: once without a break, once cancelled at a step
/// and resumed. Resume tests compare what the two folders hold.</summary>
static class ResumedRun
{
    sealed class CancelAt(CancellationTokenSource source, Func<TrainProgress, bool> when) : IProgress<TrainProgress>
    {
        public void Report(TrainProgress p) { if (when(p)) source.Cancel(); }
    }

    /// <summary>Returns the uninterrupted run's folder and the resumed one's. <paramref name="cancelled"/> sees the
    /// resumed run's folder and the result of its cancelled part before the resume.</summary>
    public static (string whole, string parts) Train(Shapes.Inferred net, ImageSet train, ImageSet test, int epoch, int step,
        Action<string, TrainResult>? cancelled = null) =>
        Train(net, train, test, p => p.Phase == "train" && p.Epoch == epoch && p.Step == step, cancelled);

    /// <summary>As above, cancelled at the first progress report <paramref name="when"/> holds for (a phase, a step).
    /// Evaluation passes go in batches of <paramref name="evalBatch"/>, so a small set has several to stop between.</summary>
    public static (string whole, string parts) Train(Shapes.Inferred net, ImageSet train, ImageSet test, Func<TrainProgress, bool> when,
        Action<string, TrainResult>? cancelled = null, int evalBatch = 256)
    {
        var config = net.Network.Train!.Value;
        var whole = Directory.CreateTempSubdirectory("dsl-whole-").FullName;
        using (var device = new CpuDevice())
        using (var trainer = new Trainer(net, config, device, new TrainOptions { OutputDirectory = whole, EvalBatch = evalBatch }))
            trainer.Run(train, test);
        var parts = Directory.CreateTempSubdirectory("dsl-parts-").FullName;
        using (var device = new CpuDevice())
        using (var trainer = new Trainer(net, config, device, new TrainOptions { OutputDirectory = parts, EvalBatch = evalBatch }))
        {
            using var cancel = new CancellationTokenSource();
            var r = trainer.Run(train, test, new CancelAt(cancel, when), cancel.Token);
            cancelled?.Invoke(parts, r);
        }
        using (var device = new CpuDevice())
        using (var trainer = new Trainer(net, config, device, new TrainOptions { OutputDirectory = parts, Resume = true, EvalBatch = evalBatch }))
            trainer.Run(train, test);
        return (whole, parts);
    }
}
