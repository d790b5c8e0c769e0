using System.Globalization;

namespace Dsl.Runtime.Diagnosis;

/// <summary>Class imbalance that is real: in the whole training set, or in a training subset that random sampling of the
/// whole set would not give. A random 256-image subset of a balanced set holds 12 of one class and 37 of another often
/// enough; weighting the loss for that would be wrong.</summary>
public static class ClassBalance
{
    /// <summary>Largest over smallest class count that makes a set imbalanced.</summary>
    public const double ImbalanceRatio = 3;
    /// <summary>Training counts less likely than this under random sampling of the whole set were not sampled at random.</summary>
    public const double NotRandom = 1e-3;

    sealed record Counts(string Name, double Train, double Whole);

    /// <summary>The class-imbalance finding, or null.</summary>
    public static Finding? Judge(RunHistory run)
    {
        var counts = Read(run);
        if (counts.Count < 2) return null;
        var few = counts.Where(c => c.Train > 0).MinBy(c => c.Train);
        var many = counts.MaxBy(c => c.Train)!;
        if (few is null || many.Train / few.Train < ImbalanceRatio) return null;
        var recall = run.Latest("val_recall").ToDictionary(r => r.Subject[6..], r => r.Value);
        string Line(Counts c) => $"{c.Name}: {c.Train:0} training images" + (double.IsNaN(c.Whole) ? "" : $" ({c.Whole:0} in the whole set)") +
            (recall.TryGetValue(c.Name, out var v) ? $", validation recall {Pct(v)}" : "");
        string comparison;
        if (counts.Any(c => double.IsNaN(c.Whole)))
            comparison = $"the largest class has {many.Train / few.Train:0.0} times the training images of the smallest (compared with the training set's own counts: this stats.csv has no whole-set counts, so sampling noise cannot be told apart)";
        else if (WholeRatio(counts) is var whole && whole >= ImbalanceRatio)
            comparison = $"the whole training set is imbalanced: its largest class has {whole:0.0} times the images of its smallest (compared with the whole set's own counts)";
        else if (SamplingChance(counts) is var (p, x) && p < NotRandom)
            comparison = $"the training images are not a random sample of the whole set: counts this far from its proportions (chi-square {G(x)}, {counts.Count - 1} degrees of freedom) come by chance with probability {G(p)}";
        else return null;
        var evidence = counts.Select(Line).Prepend(comparison).ToList();
        return new Finding("class imbalance", $"{few.Name} has {few.Train:0} training images against {many.Train:0} for {many.Name}", evidence,
            run.Setting("class_weights") == 1 ? $"the loss is already class-weighted: add images of {few.Name} (or `augment` them)"
                : "add `class-weights balanced` to the train block");
    }

    /// <summary>For a healthy run whose training counts differ by <see cref="ImbalanceRatio"/> or more only by sampling: why
    /// that is no finding.</summary>
    public static string? WhyNoFinding(RunHistory run)
    {
        var counts = Read(run);
        if (counts.Count < 2 || counts.Any(c => double.IsNaN(c.Whole)) || Judge(run) is not null) return null;
        var train = counts.Where(c => c.Train > 0).ToList();
        if (train.Count < 2 || train.Max(c => c.Train) / train.Min(c => c.Train) < ImbalanceRatio) return null;
        var (p, x) = SamplingChance(counts);
        return $"training class counts {train.Min(c => c.Train):0}-{train.Max(c => c.Train):0}: what random sampling of the whole set gives " +
            $"(chi-square {G(x)} against its proportions, probability {G(p)}); the whole set's counts differ by {WholeRatio(counts):0.0} times at most";
    }

    static List<Counts> Read(RunHistory run)
    {
        if (run.Stats is null) return [];
        var whole = run.Stats.Where(r => r.Statistic == "set_count").ToDictionary(r => r.Subject, r => r.Value);
        return run.Stats.Where(r => r.Statistic == "train_count")
            .Select(r => new Counts(r.Subject[6..], r.Value, whole.GetValueOrDefault(r.Subject, double.NaN))).ToList();
    }

    static double WholeRatio(List<Counts> counts) =>
        counts.Max(c => c.Whole) / counts.Where(c => c.Whole > 0).DefaultIfEmpty(counts[0]).Min(c => c.Whole);

    /// <summary>Pearson's test of the training counts against the whole set's proportions: (probability, statistic).</summary>
    static (double P, double X) SamplingChance(List<Counts> counts)
    {
        double n = counts.Sum(c => c.Train), total = counts.Sum(c => c.Whole);
        var expected = counts.Select(c => n * c.Whole / total).ToList();
        double x = ChiSquare.Statistic(counts.Select(c => c.Train).ToList(), expected);
        return (ChiSquare.UpperTail(x, Math.Max(1, expected.Count(e => e > 0) - 1)), x);
    }

    static string G(double v) => v.ToString("G3", CultureInfo.InvariantCulture);
    static string Pct(double v) => (100 * v).ToString("0.0", CultureInfo.InvariantCulture) + "%";
}
