// What the statistics the diagnosis gathers (stats.csv) cost in training time. They are taken once an epoch, at its last
// step, so the cost is measured there directly: the median time of RunStatistics' reads and reductions against the
// median time of a training step (forward, backward, update), both timed in the same process in alternation so that
// the machine's load weighs on both alike. Then, as a whole-run check, training throughput with and without them
// (TrainOptions.Statistics), alternating rounds. The step-loss record costs nothing measurable (a comparison a step).
//   usage: StatsCost MODEL_FILE [--epochs N] [--limit N] [--rounds N] [--repeats N]
using System.Diagnostics;
using Dsl.Compiler;
using Dsl.Core;
using Dsl.Runtime;
using Dsl.Runtime.Cpu;
using Dsl.Runtime.Data;

string file = args[0];
int Arg(string name, int fallback) => Array.IndexOf(args, name) is var i and >= 0 ? int.Parse(args[i + 1]) : fallback;
int epochs = Arg("--epochs", 2), limit = Arg("--limit", 1800), rounds = Arg("--rounds", 2), repeats = Arg("--repeats", 15);
var (net, _) = Frontend.compileFile(file, null);
var config = net.Network.Train!.Value;
using var device = new CpuDevice();
double Median(IEnumerable<double> v) { var s = v.Order().ToList(); return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2; }

// 1. The measured step, directly.
var plan = MemoryPlan.compile(PlanMode.Training, config.Batch, net);
using (var parameters = new ParameterSet(device, plan, 1, config.Optimizer))
{
    parameters.Initialize(InitScheme.He);
    using var runner = device.Load(plan, parameters);
    var rng = new Random(1);
    int imageFloats = (int)(plan.Buffers[plan.Images].Floats / config.Batch);
    var images = Enumerable.Range(0, config.Batch * imageFloats).Select(_ => (float)rng.NextDouble()).ToArray();
    var labels = Enumerable.Range(0, config.Batch).Select(i => i % plan.Classes).ToArray();
    runner.SetBatch(images, labels);
    var dir = Directory.CreateTempSubdirectory("dsl-stats-cost-").FullName;
    var statistics = new RunStatistics(dir, net, plan, parameters, batches: 1);
    statistics.Start(false, 0, [], [], []);
    var step = new List<double>();
    var stats = new List<double>();
    var clock = new Stopwatch();
    for (int t = 1; t <= repeats + 2; t++)
    {
        clock.Restart();
        runner.Run(t);
        runner.Update(config.Optimizer, 0.001, t);
        double stepSeconds = clock.Elapsed.TotalSeconds;
        runner.Run(t);
        clock.Restart();
        statistics.BeforeUpdate();
        double before = clock.Elapsed.TotalSeconds;
        runner.Update(config.Optimizer, 0.001, t);
        clock.Restart();
        statistics.AfterUpdate(1, t);
        statistics.EndEpoch(1, t, null, []);
        if (t > 2) { step.Add(stepSeconds); stats.Add(before + clock.Elapsed.TotalSeconds); } // two warm-up rounds
    }
    Directory.Delete(dir, recursive: true);
    double s = Median(step), m = Median(stats);
    Console.WriteLine($"{net.Network.Name}, batch {config.Batch}, {net.TotalParams:N0} parameters; {device.Name}; medians of {repeats}");
    Console.WriteLine($"training step {1000 * s:0.0} ms; statistics {1000 * m:0.00} ms once an epoch ({m / s:0.000} steps' worth)");
    foreach (var steps in new[] { 1800 / config.Batch, 54000 / config.Batch })
        Console.WriteLine($"  epoch of {steps} steps: statistics {100 * m / (m + steps * s):0.00}% of its training time");
}

// 2. Whole runs, with and without.
var (train, test) = DataSources.Load(config.Data!.Value.Source, net.Network.Input, 1, config.Data.Value);
test = test.Take(256, 1);
var rates = new Dictionary<bool, List<double>> { [true] = [], [false] = [] };
Console.WriteLine($"whole runs: {Math.Min(limit, train.Count)} images, {epochs} epochs a run, {rounds} rounds");
for (int round = 0; round < rounds; round++)
    foreach (var on in round % 2 == 0 ? new[] { true, false } : [false, true])
    {
        var dir = Directory.CreateTempSubdirectory("dsl-stats-cost-").FullName;
        var progress = new EpochRates();
        using (var trainer = new Trainer(net, config, device, new TrainOptions { OutputDirectory = dir, Epochs = epochs, Limit = limit, Statistics = on }))
            trainer.Run(train, test, progress);
        Directory.Delete(dir, recursive: true);
        rates[on].AddRange(progress.Rates);
        Console.WriteLine($"  round {round + 1}, statistics {(on ? "on " : "off")}: {string.Join(", ", progress.Rates.Select(r => $"{r:0}"))} img/s");
    }
double withStats = Median(rates[true]), without = Median(rates[false]);
Console.WriteLine($"  median img/s: on {withStats:0.0}, off {without:0.0} ({100 * (without - withStats) / without:+0.0;-0.0}%; on a shared machine this spread is load, not statistics)");

/// <summary>Each finished epoch's training throughput (IProgress called synchronously: nothing is lost).</summary>
sealed class EpochRates : IProgress<TrainProgress>
{
    public List<double> Rates { get; } = [];
    public void Report(TrainProgress p) { if (p.Finished is not null) Rates.Add(p.ImagesPerSecond); }
}
