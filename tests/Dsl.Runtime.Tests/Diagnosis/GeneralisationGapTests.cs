using Dsl.Runtime.Diagnosis;
using Xunit;

namespace Dsl.Runtime.Tests;

/// <summary>The overfitting finding from a generalisation gap, on hand-made histories: the run of issue 23 (lenet without
/// dropout, 256 images, 15 epochs, cosine schedule), whose validation loss rose only 3.7% over its minimum, and healthy
/// histories that must not trip it.</summary>
public class GeneralisationGapTests
{
    // metrics.csv of that run (`dsl run lenet-without-dropout --init he --epochs 15 --limit 256 --seed 3`), rounded.
    static readonly double[] TrainLoss = [5.08, 2.41, 1.49, 0.993, 0.798, 0.762, 0.556, 0.480, 0.415, 0.394, 0.338, 0.327, 0.301, 0.292, 0.290];
    static readonly double[] TrainAcc = [0.199, 0.457, 0.570, 0.648, 0.688, 0.719, 0.789, 0.809, 0.871, 0.832, 0.895, 0.918, 0.934, 0.930, 0.934];
    static readonly double[] ValLoss = [3.56, 1.75, 1.26, 1.011, 1.014, 0.925, 0.919, 0.892, 0.784, 0.757, 0.779, 0.780, 0.784, 0.785, 0.785];
    static readonly double[] ValAcc = [0.378, 0.488, 0.561, 0.648, 0.682, 0.658, 0.719, 0.684, 0.725, 0.744, 0.727, 0.737, 0.737, 0.736, 0.735];

    static List<EpochRow> History(double[] trainLoss, double[] trainAcc, double[] valLoss, double[] valAcc) =>
        trainLoss.Select((t, i) => new EpochRow(i + 1, t, trainAcc[i], valLoss[i], valAcc[i], 0.01)).ToList();

    static List<StatRow> Settings(double trainImages, double wholeSet) =>
    [
        new(0, 0, "run", "learning_rate", 0.01), new(0, 0, "run", "dropout", 0), new(0, 0, "run", "weight_decay", 5e-4),
        new(0, 0, "run", "schedule", 1), new(0, 0, "run", "augment", 0), new(0, 0, "run", "train_images", trainImages),
        new(0, 0, "run", "val_images", 6000), new(0, 0, "class a", "train_count", trainImages / 2), new(0, 0, "class b", "train_count", trainImages / 2),
        new(0, 0, "class a", "set_count", wholeSet / 2), new(0, 0, "class b", "set_count", wholeSet / 2),
    ];

    [Fact]
    public void TheIssueRunIsOverfittingSinceEpochSixThoughItsValidationLossHardlyRose()
    {
        var v = Doctor.Diagnose(new RunHistory(History(TrainLoss, TrainAcc, ValLoss, ValAcc), Settings(256, 60000)));
        var f = Assert.Single(v.Findings);
        Assert.Equal("overfitting", f.Kind);
        // By hand: the gap (training - validation accuracy) is 6.1, 7.0, 12.5, 14.6, 8.8, ... 19.9 points from epoch 6 on,
        // and 0.6 at epoch 5; the validation loss ends 2.71 times the training loss.
        Assert.Equal(6, f.Epoch);
        Assert.Contains("generalisation gap since epoch 6", f.Summary);
        Assert.Contains(f.Evidence, e => e.Contains("training 93.4%, validation 73.5% (gap 19.9 points, over 5.0 points since epoch 6)"));
        Assert.Contains(f.Evidence, e => e.Contains("training 0.29, validation 0.785 (2.71 times)"));
        // 256 of the set's 54,000 training images: more data is the first change, then dropout (the run had none).
        Assert.StartsWith("train on all 54000 training images of the set (this run used 256: drop `--limit`); or add `|> dropout 0.5`", f.Change);
    }

    [Fact]
    public void ATrainingSetUsedWholeIsToldToAddDropoutFirst()
    {
        var v = Doctor.Diagnose(new RunHistory(History(TrainLoss, TrainAcc, ValLoss, ValAcc), Settings(54000, 60000)));
        Assert.StartsWith("add `|> dropout 0.5`", v.Findings.Single().Change);
    }

    [Fact]
    public void AGapUnderTenPointsOrWithCloseLossesIsNoFinding()
    {
        // A healthy full lenet run: training 93.9%, validation 92.1% at the end, losses 0.17 and 0.22.
        double[] trainLoss = [0.50, 0.32, 0.27, 0.24, 0.21, 0.19, 0.18, 0.17];
        double[] valLoss = [0.33, 0.29, 0.26, 0.25, 0.23, 0.22, 0.22, 0.22];
        double[] trainAcc = [0.82, 0.88, 0.90, 0.91, 0.92, 0.93, 0.935, 0.939];
        double[] valAcc = [0.88, 0.89, 0.905, 0.91, 0.915, 0.918, 0.920, 0.921];
        Assert.Empty(Doctor.Diagnose(new RunHistory(History(trainLoss, trainAcc, valLoss, valAcc), Settings(54000, 60000))).Findings);
        // An 11-point gap whose losses stay within 1.5 times (label noise, heavy augmentation): no finding either.
        double[] lowVal = [0.78, 0.79, 0.795, 0.80, 0.81, 0.82, 0.825, 0.829];
        double[] closeVal = [0.55, 0.36, 0.30, 0.28, 0.26, 0.25, 0.25, 0.25];
        Assert.Empty(Doctor.Diagnose(new RunHistory(History(trainLoss, trainAcc, closeVal, lowVal), Settings(54000, 60000))).Findings);
    }
}
