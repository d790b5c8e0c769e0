using Dsl.Compiler;
using Dsl.Runtime.Cpu;
using Dsl.Runtime.Data;

namespace Dsl.Runtime.Tests;

/// <summary>One network trained twice on the CPU into fresh folders: once without a break, once cancelled at a step
/// and resumed. Resume tests compare what the two folders hold.</summary>
static class ResumedRun
{
    sealed class CancelAt(CancellationTokenSource source, int epoch, int step) : IProgress<TrainProgress>
    {
        public void Report(TrainProgress p) { if (p.Epoch == epoch && p.Step == step) source.Cancel(); }
    }

    /// <summary>Returns the uninterrupted run's folder and the resumed one's. <paramref name="cancelled"/> sees the
    /// resumed run's folder and the result of its cancelled part before the resume.</summary>
    public static (string whole, string parts) Train(Shapes.Inferred net, ImageSet train, ImageSet test, int epoch, int step,
        Action<string, TrainResult>? cancelled = null)
    {
        var config = net.Network.Train!.Value;
        var whole = Directory.CreateTempSubdirectory("dsl-whole-").FullName;
        using (var device = new CpuDevice())
        using (var trainer = new Trainer(net, config, device, new TrainOptions { OutputDirectory = whole }))
            trainer.Run(train, test);
        var parts = Directory.CreateTempSubdirectory("dsl-parts-").FullName;
        using (var device = new CpuDevice())
        using (var trainer = new Trainer(net, config, device, new TrainOptions { OutputDirectory = parts }))
        {
            using var cancel = new CancellationTokenSource();
            var r = trainer.Run(train, test, new CancelAt(cancel, epoch, step), cancel.Token);
            cancelled?.Invoke(parts, r);
        }
        using (var device = new CpuDevice())
        using (var trainer = new Trainer(net, config, device, new TrainOptions { OutputDirectory = parts, Resume = true }))
            trainer.Run(train, test);
        return (whole, parts);
    }
}
