using System.Diagnostics;
using Dsl.Runtime.Cpu;
using Dsl.Runtime.Data;
using Dsl.Runtime.Output;
using Xunit;

namespace Dsl.Runtime.Tests;

/// <summary>A run folder belongs to one run, and nothing a run reads back can replace good weights with bad ones.</summary>
public class RunFolderTests
{
    const string Tiny = """
        network tiny
          input 1 x 8 x 8
          conv 4 kernel 3 |> relu
          flatten
          dense classes
          softmax
        train
          optimizer sgd lr 0.05 momentum 0.9
          batch 16
          epochs 1
        """;

    static string TempDir() => Directory.CreateTempSubdirectory("dsl-runfolder-").FullName;

    /// <summary>The lock line of another process: its id and start time, as RunFolder writes them.</summary>
    static string LockOf(Process p) => $"{p.Id} {p.StartTime.ToUniversalTime().Ticks}\n";

    [Fact]
    public void ASecondRunIsRefusedNamingTheFirstAndADeadRunsLockIsTakenOver()
    {
        var dir = TempDir();
        using var other = Process.Start(new ProcessStartInfo("sleep", "60"))!;
        try
        {
            File.WriteAllText(Path.Combine(dir, RunFolder.LockName), LockOf(other));
            var e = Assert.Throws<OutputException>(() => RunFolder.Lock(dir));
            Assert.Contains($"in use by another run (process {other.Id}", e.Message);
        }
        finally
        {
            other.Kill();
            other.WaitForExit();
        }
        // The same line, its process gone: stale, taken over, and removed when the run ends.
        using (RunFolder.Lock(dir))
            Assert.StartsWith($"{Environment.ProcessId} ", File.ReadAllText(Path.Combine(dir, RunFolder.LockName)));
        Assert.False(File.Exists(Path.Combine(dir, RunFolder.LockName)));
    }

    [Fact]
    public void ALockWhoseIdWasReusedByAnotherProcessIsStale()
    {
        var dir = TempDir();
        using var self = Process.GetCurrentProcess();
        // This process's id with another start time: the run that wrote it is gone and the id now names someone else.
        File.WriteAllText(Path.Combine(dir, RunFolder.LockName), $"{self.Id} {self.StartTime.ToUniversalTime().AddHours(-1).Ticks}\n");
        using (RunFolder.Lock(dir)) { }
        Assert.False(File.Exists(Path.Combine(dir, RunFolder.LockName)));
    }

    [Fact]
    public void ANewTrainerRefusesAFinishedRunsFolderAndTheTrainerThatWroteItTrainsOn()
    {
        var net = Networks.Text(Tiny, 3);
        var config = net.Network.Train!.Value;
        var (train, test) = DataSources.Synthetic(3, 1, 8, 8, 200, 40, 1);
        var dir = TempDir();
        var weights = Path.Combine(dir, "weights.safetensors");
        using (var device = new CpuDevice())
        using (var trainer = new Trainer(net, config, device, new TrainOptions { OutputDirectory = dir }))
        {
            trainer.Run(train, test);
            var first = File.ReadAllBytes(weights);
            trainer.Run(train, test); // the same program training on: its own run
            Assert.NotEqual(first, File.ReadAllBytes(weights));
        }
        var kept = File.ReadAllBytes(weights);
        using (var device = new CpuDevice())
        using (var other = new Trainer(net, config, device, new TrainOptions { OutputDirectory = dir, Seed = 7 }))
        {
            var e = Assert.Throws<OutputException>(() => other.Run(train, test));
            Assert.Contains("finished run", e.Message);
        }
        Assert.Equal(kept, File.ReadAllBytes(weights));
        Assert.False(File.Exists(Path.Combine(dir, RunFolder.LockName)));
    }

    [Fact]
    public void ACheckpointHoldingNaNIsRefusedAndTheGoodWeightsAreUntouched()
    {
        var net = Networks.Text(Tiny, 3);
        var config = net.Network.Train!.Value;
        var (train, test) = DataSources.Synthetic(3, 1, 8, 8, 200, 40, 1);
        var dir = TempDir();
        using (var device = new CpuDevice())
        using (var trainer = new Trainer(net, config, device, new TrainOptions { OutputDirectory = dir }))
            trainer.Run(train, test);
        var weights = Path.Combine(dir, "weights.safetensors");
        var good = File.ReadAllBytes(weights);

        // One float of the checkpoint's data made NaN, as a corrupted disk or a diverged run would leave it.
        var last = Path.Combine(dir, Checkpoints.Latest);
        var bytes = File.ReadAllBytes(last);
        BitConverter.GetBytes(float.NaN).CopyTo(bytes, bytes.Length - 8);
        File.WriteAllBytes(last, bytes);

        using (var device = new CpuDevice())
        using (var trainer = new Trainer(net, config, device, new TrainOptions { OutputDirectory = dir, Resume = true, Epochs = 2 }))
        {
            var e = Assert.Throws<DataException>(() => trainer.Run(train, test));
            Assert.Contains(last, e.Message);
            Assert.Contains("holds NaN", e.Message);
        }
        Assert.Equal(good, File.ReadAllBytes(weights));
        Assert.False(File.Exists(Path.Combine(dir, RunFolder.LockName)));
    }

    [Fact]
    public void ACheckpointOfAnotherShapeNamesTheFileAndTheTensor()
    {
        var (train, test) = DataSources.Synthetic(3, 1, 8, 8, 200, 40, 1);
        var dir = TempDir();
        var net = Networks.Text(Tiny, 3);
        using (var device = new CpuDevice())
        using (var trainer = new Trainer(net, net.Network.Train!.Value, device, new TrainOptions { OutputDirectory = dir }))
            trainer.Run(train, test);
        var wider = Networks.Text(Tiny.Replace("conv 4", "conv 5"), 3);
        using var device2 = new CpuDevice();
        using var resumed = new Trainer(wider, wider.Network.Train!.Value, device2, new TrainOptions { OutputDirectory = dir, Resume = true, Epochs = 2 });
        var e = Assert.Throws<DataException>(() => resumed.Run(train, test));
        Assert.Contains(Path.Combine(dir, Checkpoints.Latest), e.Message);
        Assert.Contains("conv1.weight", e.Message);
    }

    [Fact]
    public void EvaluationCountsARowOfNaNAsWrong()
    {
        // Label 0 with NaN everywhere: every comparison with NaN is false, so a naive top-k counts it a hit.
        float[] probs = [float.NaN, float.NaN, float.NaN, 0.1f, 0.8f, 0.1f];
        Assert.Equal(1, Evaluator.TopK(probs, 2, 3, [0, 1], 1));
        Assert.Equal(1, Evaluator.TopK(probs, 2, 3, [0, 1], 3));
    }
}
