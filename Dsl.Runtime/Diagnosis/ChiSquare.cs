namespace Dsl.Runtime.Diagnosis;

/// <summary>Pearson's chi-square goodness-of-fit test: how likely counts this far from their expected values are under
/// random sampling. The upper tail is the regularised incomplete gamma function Q(df/2, x/2), computed as in Numerical
/// Recipes (series below a+1, continued fraction above).</summary>
public static class ChiSquare
{
    /// <summary>The statistic sum((observed - expected)^2 / expected) over the classes with a non-zero expectation.</summary>
    public static double Statistic(IReadOnlyList<double> observed, IReadOnlyList<double> expected) =>
        observed.Zip(expected).Where(p => p.Second > 0).Sum(p => (p.First - p.Second) * (p.First - p.Second) / p.Second);

    /// <summary>P(X >= x) for X chi-square distributed with <paramref name="df"/> degrees of freedom.</summary>
    public static double UpperTail(double x, int df)
    {
        if (df < 1) throw new ArgumentOutOfRangeException(nameof(df), df, "a chi-square test needs at least one degree of freedom");
        if (x <= 0) return 1;
        double a = df / 2.0, z = x / 2;
        return z < a + 1 ? 1 - LowerSeries(a, z) : UpperFraction(a, z);
    }

    static double LowerSeries(double a, double x)
    {
        double term = 1 / a, sum = term;
        for (int n = 1; n < 1000 && Math.Abs(term) > Math.Abs(sum) * 1e-15; n++)
        {
            term *= x / (a + n);
            sum += term;
        }
        return sum * Math.Exp(-x + a * Math.Log(x) - LogGamma(a));
    }

    // Lentz's method for the continued fraction of Q(a, x).
    static double UpperFraction(double a, double x)
    {
        const double tiny = 1e-300;
        double b = x + 1 - a, c = 1 / tiny, d = 1 / b, h = d;
        for (int i = 1; i < 1000; i++)
        {
            double an = -i * (i - a);
            b += 2;
            d = an * d + b;
            if (Math.Abs(d) < tiny) d = tiny;
            c = b + an / c;
            if (Math.Abs(c) < tiny) c = tiny;
            d = 1 / d;
            double step = d * c;
            h *= step;
            if (Math.Abs(step - 1) < 1e-15) break;
        }
        return Math.Exp(-x + a * Math.Log(x) - LogGamma(a)) * h;
    }

    // Lanczos' approximation (g = 7, 9 terms), good to about 15 digits for a > 0.
    static readonly double[] Lanczos =
    [
        0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
        12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
    ];

    static double LogGamma(double a)
    {
        double x = a - 1, sum = Lanczos[0];
        for (int i = 1; i < Lanczos.Length; i++) sum += Lanczos[i] / (x + i);
        double t = x + 7.5;
        return 0.5 * Math.Log(2 * Math.PI) + (x + 0.5) * Math.Log(t) - t + Math.Log(sum);
    }
}
