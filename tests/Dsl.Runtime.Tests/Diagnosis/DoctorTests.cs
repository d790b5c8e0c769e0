using Dsl.Runtime.Diagnosis;
using Xunit;

namespace Dsl.Runtime.Tests;

/// <summary>The diagnosis rules on hand-made histories: each finding appears where the figures say it must (the epochs and
/// counts worked out by hand here) and stays away from a history without it.</summary>
public class DoctorTests
{
    static List<EpochRow> Epochs(double[] trainLoss, double[] valLoss, double trainAcc = 0.9, double valAcc = 0.85) =>
        trainLoss.Select((t, i) => new EpochRow(i + 1, t, trainAcc, valLoss[i], valAcc, 0.01)).ToList();

    static List<StatRow> Settings(double lr = 0.01, double dropout = 0, double decay = 0, double schedule = 0, double classWeights = 0) =>
    [
        new(0, 0, "run", "learning_rate", lr), new(0, 0, "run", "dropout", dropout), new(0, 0, "run", "weight_decay", decay),
        new(0, 0, "run", "schedule", schedule), new(0, 0, "run", "class_weights", classWeights), new(0, 0, "run", "train_images", 300),
    ];

    /// <summary>Per-layer rows for the last epoch: three layers with these update ratios, gradient norms and dead fractions.</summary>
    static IEnumerable<StatRow> Layers(int epoch, double[] ratios, double[]? grads = null, double[]? dead = null) =>
        ratios.SelectMany((r, i) => new StatRow[]
        {
            new(epoch, epoch * 10, $"layer{i + 1}", "update_ratio", r),
            new(epoch, epoch * 10, $"layer{i + 1}", "grad_norm", grads?[i] ?? 1.0),
            new(epoch, epoch * 10, $"layer{i + 1}", "dead_fraction", dead?[i] ?? 0.0),
        });

    static readonly double[] Falling = [1.0, 0.7, 0.5, 0.4, 0.33, 0.3];

    static Verdict Diagnose(List<EpochRow> epochs, IEnumerable<StatRow>? stats) => Doctor.Diagnose(new RunHistory(epochs, stats?.ToList()));

    static string[] Kinds(Verdict v) => v.Findings.Select(f => f.Kind).ToArray();

    [Fact]
    public void OverfittingIsDatedFromTheEpochAfterTheValidationMinimum()
    {
        // Validation loss lowest at epoch 3 (0.7), then 0.75, 0.85, 0.95 while the training loss keeps falling: began at epoch 4.
        var v = Diagnose(Epochs([1.0, 0.7, 0.5, 0.3, 0.2, 0.1], [1.0, 0.8, 0.7, 0.75, 0.85, 0.95]), Settings().Concat(Layers(6, [1e-3, 1e-3, 1e-3])));
        var f = Assert.Single(v.Findings);
        Assert.Equal("overfitting", f.Kind);
        Assert.Equal(4, f.Epoch);
        Assert.StartsWith("add `|> dropout 0.5`", f.Change);
        // With dropout there, weight decay comes first.
        var withDropout = Diagnose(Epochs([1.0, 0.7, 0.5, 0.3, 0.2, 0.1], [1.0, 0.8, 0.7, 0.75, 0.85, 0.95]), Settings(dropout: 1));
        Assert.StartsWith("add `weight-decay 5e-4`", withDropout.Findings.Single(x => x.Kind == "overfitting").Change);
    }

    [Fact]
    public void AValidationLossThatKeepsFallingIsNotOverfitting()
    {
        var v = Diagnose(Epochs(Falling, [1.1, 0.8, 0.6, 0.5, 0.45, 0.42]), Settings(schedule: 1).Concat(Layers(6, [1e-3, 2e-3, 5e-4])));
        Assert.Empty(v.Findings);
        Assert.Contains("diagnosis: the run looks healthy", v.Lines());
        Assert.Empty(v.CannotJudge);
    }

    [Fact]
    public void UpdateRatiosFarAboveOneInAThousandSayTheLearningRateIsTooHigh()
    {
        var v = Diagnose(Epochs(Falling, Falling), Settings(lr: 0.3, schedule: 1).Concat(Layers(6, [0.2, 0.1, 0.05])));
        var f = Assert.Single(v.Findings);
        Assert.Equal("learning rate too high", f.Kind);
        Assert.Contains("median 0.1 ", f.Evidence[0]);
        Assert.Contains("`lr 0.1`", f.Change);
    }

    [Fact]
    public void SpikesAreStepsOverTwiceTheMedianOfTheTenBefore()
    {
        // Ten ones, then 2.5 (a spike), 1, 1.9 (not: under twice), 3 (a spike): two.
        double[] losses = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2.5, 1, 1.9, 3];
        Assert.Equal(2, Doctor.Spikes(losses));
        // Near zero, tripling is noise: 0.03 to 0.09 is under 0.5 above the median.
        Assert.Equal(0, Doctor.Spikes([.. Enumerable.Repeat(0.03, 10), 0.09]));
    }

    [Fact]
    public void TinyRatiosWithAStillLossSayTheLearningRateIsTooLow()
    {
        var flat = Diagnose(Epochs([2.30, 2.29, 2.29, 2.28], [2.3, 2.3, 2.29, 2.29], 0.1, 0.1), Settings(lr: 1e-6, schedule: 1).Concat(Layers(4, [1e-6, 2e-6, 3e-6])));
        Assert.Equal(["learning rate too low", "underfitting"], Kinds(flat));
        var f = flat.Findings.Single(x => x.Kind == "learning rate too low");
        Assert.Contains("`lr 0.0005`", f.Change); // 1e-6 x (1e-3 / 2e-6)
        // The same ratios while the loss halves: the rate does its job.
        var moving = Diagnose(Epochs([2.3, 1.8, 1.4, 1.1], [2.3, 1.8, 1.4, 1.1]), Settings(lr: 1e-6, schedule: 1).Concat(Layers(4, [1e-6, 2e-6, 3e-6])));
        Assert.DoesNotContain("learning rate too low", Kinds(moving));
    }

    [Fact]
    public void ALayerWithMostUnitsSilentIsDead()
    {
        var v = Diagnose(Epochs(Falling, Falling), Settings(schedule: 1).Concat(Layers(6, [1e-3, 1e-3, 1e-3], dead: [0, 0.9, 0.4])));
        var f = Assert.Single(v.Findings);
        Assert.Equal("dead units", f.Kind);
        Assert.Contains("layer2", f.Summary);
        Assert.Contains("leaky-relu", f.Change);
        // No gradient reaches the layers before a silent one: one finding, at the last.
        var chain = Diagnose(Epochs(Falling, Falling), Settings(schedule: 1).Concat(Layers(6, [1e-3, 1e-3, 1e-3], dead: [0.6, 1, 0])));
        Assert.Contains("layer2", chain.Findings.Single().Summary);
        Assert.Equal("before it, with little gradient reaching them through it: layer1 60.0%", chain.Findings.Single().Evidence[2]);
    }

    [Fact]
    public void GradientNormsSpanningManyOrdersAreVanishingOrExploding()
    {
        var vanishing = Diagnose(Epochs(Falling, Falling), Settings(schedule: 1).Concat(Layers(6, [1e-3, 1e-3, 1e-3], grads: [1e-6, 1e-3, 1])));
        Assert.Equal(["vanishing gradients"], Kinds(vanishing));
        Assert.Contains("6.0 orders", vanishing.Findings[0].Summary);
        var exploding = Diagnose(Epochs(Falling, Falling), Settings(schedule: 1).Concat(Layers(6, [1e-3, 1e-3, 1e-3], grads: [1e5, 10, 0.1])));
        Assert.Equal(["exploding gradients"], Kinds(exploding));
        var within = Diagnose(Epochs(Falling, Falling), Settings(schedule: 1).Concat(Layers(6, [1e-3, 1e-3, 1e-3], grads: [0.01, 1, 10])));
        Assert.Empty(within.Findings);
    }

    [Fact]
    public void NineToOneClassesAreImbalancedAndTheAdviceDependsOnClassWeights()
    {
        StatRow[] counts = [new(0, 0, "class cat", "train_count", 900), new(0, 0, "class dog", "train_count", 100), new(6, 60, "class dog", "val_recall", 0.1)];
        var v = Diagnose(Epochs(Falling, Falling), Settings(schedule: 1).Concat(counts));
        var f = Assert.Single(v.Findings);
        Assert.Equal("class imbalance", f.Kind);
        Assert.Equal("add `class-weights balanced` to the train block", f.Change);
        Assert.Contains(f.Evidence, e => e == "dog: 100 training images, validation recall 10.0%");
        var weighted = Diagnose(Epochs(Falling, Falling), Settings(schedule: 1, classWeights: 1).Concat(counts));
        Assert.Contains("already class-weighted", weighted.Findings.Single().Change);
        StatRow[] even = [new(0, 0, "class cat", "train_count", 110), new(0, 0, "class dog", "train_count", 100)];
        Assert.Empty(Diagnose(Epochs(Falling, Falling), Settings(schedule: 1).Concat(even)).Findings);
    }

    [Fact]
    public void LowFlatAccuracyIsUnderfitting()
    {
        var v = Diagnose(Epochs([2.2, 2.1, 2.1, 2.1], [2.2, 2.1, 2.1, 2.1], 0.3, 0.3), Settings(schedule: 1).Concat(Layers(4, [1e-3, 1e-3, 1e-3])));
        Assert.Equal(["underfitting"], Kinds(v));
    }

    [Fact]
    public void AFlatValidationLossAtAConstantRateIsAPlateauAScheduleWouldCut()
    {
        // Best 0.6 by epoch 3; epochs 4-6 no better than 0.594 (1% under): a plateau from epoch 4.
        var flat = Epochs([1.0, 0.8, 0.7, 0.65, 0.62, 0.6], [0.9, 0.7, 0.6, 0.6, 0.61, 0.6]);
        var f = Assert.Single(Diagnose(flat, Settings().Concat(Layers(6, [1e-3, 1e-3, 1e-3]))).Findings);
        Assert.Equal("plateau", f.Kind);
        Assert.Equal(4, f.Epoch);
        Assert.Contains("reduce-on-plateau", f.Change);
        Assert.Empty(Diagnose(flat, Settings(schedule: 1).Concat(Layers(6, [1e-3, 1e-3, 1e-3]))).Findings);
    }

    [Fact]
    public void AStepLossTenTimesTheFirstSaysTheLearningRateIsTooHigh()
    {
        StatRow[] losses = [new(1, 1, "run", "loss", 2.3), new(1, 2, "run", "loss", 2.3e4), new(1, 3, "run", "loss", 2.2)];
        var f = Diagnose(Epochs(Falling, Falling), Settings(lr: 5, schedule: 1).Concat(losses).Concat(Layers(6, [1e-3, 1e-3, 1e-3]))).Findings.Single();
        Assert.Equal("learning rate too high", f.Kind);
        Assert.Equal("the step loss reached 2.3E+04, 1E+04 times the first step's 2.3", f.Evidence[0]);
        Assert.Contains("`lr 0.5`", f.Change);
    }

    [Fact]
    public void ANonFiniteLossIsDivergenceAndNothingElseIsJudgedFromItsStatistics()
    {
        StatRow[] losses = [new(1, 1, "run", "loss", 2.3), new(1, 2, "run", "loss", 1e6), new(1, 3, "run", "loss", double.NaN)];
        var v = Diagnose([], Settings(lr: 5).Concat(losses).Concat(Layers(1, [10, 10, 10])));
        var f = Assert.Single(v.Findings);
        Assert.Equal("divergence", f.Kind);
        Assert.Contains("update 3", f.Evidence[0]);
        Assert.Contains("`lr 0.5`", f.Change);
    }

    [Fact]
    public void AnOldRunFolderSaysWhatCannotBeJudged()
    {
        var v = Diagnose(Epochs(Falling, Falling), null);
        Assert.Empty(v.Findings);
        Assert.Contains(v.CannotJudge, c => c.Contains("no stats.csv"));
        Assert.Equal("diagnosis: no finding in what could be judged", v.Lines().First());
        var two = Diagnose(Epochs([1.0, 0.8], [1.0, 0.8]), null);
        Assert.Contains(two.CannotJudge, c => c.Contains("2 finished epochs, trends need 3"));
    }

    [Fact]
    public void StatsFileKeepsQuotedNamesAndDropsRedoneRowsOnResume()
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("dsl-stats-").FullName, StatsFile.Name);
        StatRow[] rows = [new(0, 0, "class a, \"b\"", "train_count", 3), new(1, 5, "conv1", "grad_norm", 0.125), new(2, 9, "run", "loss", double.NaN),
            new(2, 9, "run", "test_accuracy", 0.5)];
        File.WriteAllLines(path, rows.Select(StatsFile.Line).Prepend(StatsFile.Header));
        Assert.Equal("0,0,\"class a, \"\"b\"\"\",train_count,3", File.ReadAllLines(path)[1]);
        var back = StatsFile.Read(path);
        Assert.Equal(rows[..3], back[..3]);
        Assert.True(double.IsNaN(back[2].Value));
        StatsFile.KeepUpTo(path, 9);
        Assert.Equal(rows[..3].Select(r => r.Subject), StatsFile.Read(path).Select(r => r.Subject));
        StatsFile.KeepUpTo(path, 5);
        Assert.Equal(2, StatsFile.Read(path).Count);
        File.AppendAllText(path, "1,2,conv1\n");
        var e = Assert.Throws<DataException>(() => StatsFile.Read(path));
        Assert.Contains("stats.csv:4:", e.Message);
    }
}
