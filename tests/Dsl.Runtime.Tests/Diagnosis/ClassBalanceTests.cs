using Dsl.Runtime.Diagnosis;
using Xunit;

namespace Dsl.Runtime.Tests;

/// <summary>The class-imbalance finding fires for imbalance in the whole set or in a subset that random sampling would not
/// give, and not for the noise of a random subset of a balanced set; the chi-square tail against closed forms.</summary>
public class ClassBalanceTests
{
    static readonly string[] Names = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    static RunHistory Run(double[] train, double[]? whole, double classWeights = 0)
    {
        var stats = new List<StatRow> { new(0, 0, "run", "class_weights", classWeights) };
        for (int k = 0; k < train.Length; k++)
        {
            stats.Add(new(0, 0, "class " + Names[k], "train_count", train[k]));
            if (whole is not null) stats.Add(new(0, 0, "class " + Names[k], "set_count", whole[k]));
        }
        return new RunHistory([], stats);
    }

    // The random 256-image subset of Fashion-MNIST's training set (6,000 images of each class).
    static readonly double[] Subset = [24, 37, 28, 22, 31, 12, 29, 22, 28, 23];
    static readonly double[] Balanced = Enumerable.Repeat(6000.0, 10).ToArray();

    [Fact]
    public void ARandomSubsetOfABalancedSetIsNotImbalanced()
    {
        Assert.Null(ClassBalance.Judge(Run(Subset, Balanced)));
        // By hand: expected 25.6 each; sum of (n - 25.6)^2 / 25.6 = 402.4 / 25.6 = 15.72 with 9 degrees of freedom: probability
        // 0.073 (the density integrated numerically in float64; a table puts it between 0.10 at 14.68 and 0.05 at 16.92).
        var why = ClassBalance.WhyNoFinding(Run(Subset, Balanced));
        Assert.NotNull(why);
        Assert.Contains("training class counts 12-37: what random sampling of the whole set gives (chi-square 15.7", why);
        Assert.Contains("probability 0.073", why);
    }

    [Fact]
    public void ASubsetFarFromTheWholeSetsProportionsIsImbalanced()
    {
        double[] skewed = [100, 100, 100, 100, 100, 10, 100, 100, 100, 100];
        var f = ClassBalance.Judge(Run(skewed, Balanced));
        Assert.NotNull(f);
        Assert.Equal("Sandal has 10 training images against 100 for T-shirt/top", f.Summary);
        Assert.StartsWith("the training images are not a random sample of the whole set", f.Evidence[0]);
        Assert.Contains(f.Evidence, e => e == "Sandal: 10 training images (6000 in the whole set)");
        Assert.Equal("add `class-weights balanced` to the train block", f.Change);
    }

    [Fact]
    public void AnImbalancedWholeSetIsImbalancedAndSaysSo()
    {
        var f = ClassBalance.Judge(Run([810, 90], [900, 100]));
        Assert.NotNull(f);
        Assert.Equal("the whole training set is imbalanced: its largest class has 9.0 times the images of its smallest (compared with the whole set's own counts)", f.Evidence[0]);
        Assert.Contains("already class-weighted", ClassBalance.Judge(Run([810, 90], [900, 100], classWeights: 1))!.Change);
    }

    [Fact]
    public void WithoutWholeSetCountsTheTrainingCountsAreComparedWithEachOtherAndItSaysSo()
    {
        var f = ClassBalance.Judge(Run(Subset, null));
        Assert.NotNull(f);
        Assert.Contains("compared with the training set's own counts", f.Evidence[0]);
        Assert.Null(ClassBalance.Judge(Run([110, 100], null)));
    }

    [Theory]
    [InlineData(0.5, 2)]
    [InlineData(2.0, 2)]
    [InlineData(9.0, 2)]
    [InlineData(1.0, 4)]
    [InlineData(15.72, 4)]
    [InlineData(60.0, 4)]
    public void TheUpperTailMatchesTheClosedFormsForTwoAndFourDegrees(double x, int df)
    {
        // P(X >= x) is exp(-x/2) for 2 degrees of freedom and exp(-x/2) (1 + x/2) for 4.
        double expected = df == 2 ? Math.Exp(-x / 2) : Math.Exp(-x / 2) * (1 + x / 2);
        Assert.Equal(expected, ChiSquare.UpperTail(x, df), expected * 1e-9);
    }

    [Fact]
    public void TheUpperTailMatchesTableValues()
    {
        // Critical values from a chi-square table (df, value at which the upper tail is 0.05, 0.01, 0.001).
        Assert.Equal(0.05, ChiSquare.UpperTail(3.841459, 1), 1e-6);
        Assert.Equal(0.01, ChiSquare.UpperTail(21.66599, 9), 1e-6);
        Assert.Equal(0.001, ChiSquare.UpperTail(27.87716, 9), 1e-7);
        Assert.Equal(0.05, ChiSquare.UpperTail(16.91898, 9), 1e-6);
    }
}
