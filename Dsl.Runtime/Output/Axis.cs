using System.Globalization;

namespace Dsl.Runtime.Output;

/// <summary>A linear axis: a data range widened to round numbers, ticks at steps of 1, 2 or 5 times a power of ten,
/// and the labels for them with as many decimals as the step needs.</summary>
public sealed class Axis
{
    /// <summary>An axis over <paramref name="min"/>..<paramref name="max"/>, about <paramref name="targetTicks"/> steps,
    /// never beyond <paramref name="lowest"/>..<paramref name="highest"/> (accuracy stays within 0..1).</summary>
    public Axis(double min, double max, int targetTicks = 5, bool integers = false, double lowest = double.NegativeInfinity, double highest = double.PositiveInfinity)
    {
        // A single value gets a tenth of itself either side, so it sits mid-axis with sensible ticks.
        if (!(max > min)) (min, max) = min == 0 ? (-1, 1) : (min - Math.Abs(min) * 0.1, max + Math.Abs(max) * 0.1);
        double raw = (max - min) / targetTicks, power = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        Step = new[] { 1, 2, 5, 10 }.Select(m => m * power).First(s => s >= raw * 0.999);
        if (integers) Step = Math.Max(1, Math.Round(Step));
        Min = Math.Floor(min / Step + 1e-9) * Step;
        Max = Math.Ceiling(max / Step - 1e-9) * Step;
        (Min, Max) = (Math.Max(Min, lowest), Math.Min(Max, highest));
        Decimals = Math.Max(0, -(int)Math.Floor(Math.Log10(Step) + 1e-9));
    }

    public double Min { get; }
    public double Max { get; }
    public double Step { get; }
    public int Decimals { get; }

    public IEnumerable<double> Ticks()
    {
        for (int i = 0; Min + i * Step <= Max + Step * 1e-6; i++) yield return Min + i * Step;
    }

    /// <summary>Where <paramref name="v"/> falls between <paramref name="from"/> (at Min) and <paramref name="to"/> (at Max).</summary>
    public double Map(double v, double from, double to) => from + (v - Min) / (Max - Min) * (to - from);

    public string Label(double v, double factor = 1, string suffix = "") =>
        (v * factor).ToString("F" + Math.Max(0, Decimals - (int)Math.Round(Math.Log10(factor))), CultureInfo.InvariantCulture) + suffix;
}
