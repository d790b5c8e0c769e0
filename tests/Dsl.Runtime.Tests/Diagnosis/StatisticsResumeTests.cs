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

    [Fact]
    public void AResumedRunKeepsItsStatistics()
    {
        var (train, test) = DataSources.Synthetic(4, 1, 12, 12, 400, 80, 3);
        var (whole, parts) = ResumedRun.Train(Networks.Text(Small, 4), train, test, 2, 13, (folder, _) =>
        {
            // An interrupted run stops without its test pass; the resumed run's is the one in the file.
            Assert.DoesNotContain(StatsFile.Read(Path.Combine(folder, StatsFile.Name)), r => r.Statistic == "test_accuracy");
            // The checkpoint carries its own copy: the run folder's may go.
            File.Delete(Path.Combine(folder, StatsFile.Name));
        });
        var expected = File.ReadAllLines(Path.Combine(whole, StatsFile.Name));
        // 360 training images in steps of 8: 45 an epoch, each loss kept (fewer than 50), the layers measured at the last.
        Assert.Contains(expected, l => l.StartsWith("3,135,conv1,update_ratio,"));
        Assert.Equal(expected, File.ReadAllLines(Path.Combine(parts, StatsFile.Name)));
    }
}
