using Dsl.Runtime.Cpu;
using Dsl.Runtime.Data;
using Dsl.Runtime.Diagnosis;
using Xunit;

namespace Dsl.Runtime.Tests;

/// <summary>stats.csv of a run cancelled mid-epoch and resumed is the one an uninterrupted run writes (training resumes
/// bit-identically, so every measurement must come out the same, with nothing lost and nothing twice), restored from the
/// checkpoint when the run folder's copy is gone.</summary>
public class StatisticsResumeTests
{
    const string Small = """
        network small
          input 1 x 12 x 12
          conv 6 kernel 3 |> relu
          maxpool 2
          flatten
          dense 24 |> relu |> dropout 0.3
          dense classes
          softmax
        train
          optimizer adam lr 0.003
          batch     8
          epochs    3
          seed      5
        """;

    sealed class CancelAt(CancellationTokenSource source, int epoch, int step) : IProgress<TrainProgress>
    {
        public void Report(TrainProgress p) { if (p.Epoch == epoch && p.Step == step) source.Cancel(); }
    }

    [Fact]
    public void AResumedRunKeepsItsStatistics()
    {
        var net = Networks.Text(Small, 4);
        var config = net.Network.Train!.Value;
        var (train, test) = DataSources.Synthetic(4, 1, 12, 12, 400, 80, 3);
        var whole = Directory.CreateTempSubdirectory("dsl-stats-whole-").FullName;
        using (var device = new CpuDevice())
        using (var trainer = new Trainer(net, config, device, new TrainOptions { OutputDirectory = whole }))
            trainer.Run(train, test);
        var parts = Directory.CreateTempSubdirectory("dsl-stats-parts-").FullName;
        using (var device = new CpuDevice())
        using (var trainer = new Trainer(net, config, device, new TrainOptions { OutputDirectory = parts }))
        {
            using var cancel = new CancellationTokenSource();
            trainer.Run(train, test, new CancelAt(cancel, 2, 13), cancel.Token);
        }
        Assert.Contains(StatsFile.Read(Path.Combine(parts, StatsFile.Name)), r => r.Statistic == "test_accuracy");
        // The checkpoint carries its own copy: the run folder's may go.
        File.Delete(Path.Combine(parts, StatsFile.Name));
        using (var device = new CpuDevice())
        using (var trainer = new Trainer(net, config, device, new TrainOptions { OutputDirectory = parts, Resume = true }))
            trainer.Run(train, test);
        var expected = File.ReadAllLines(Path.Combine(whole, StatsFile.Name));
        // 360 training images in steps of 8: 45 an epoch, each loss kept (fewer than 50), the layers measured at the last.
        Assert.Contains(expected, l => l.StartsWith("3,135,conv1,update_ratio,"));
        Assert.Equal(expected, File.ReadAllLines(Path.Combine(parts, StatsFile.Name)));
    }
}
