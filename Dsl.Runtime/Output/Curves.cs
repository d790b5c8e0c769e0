using System.Globalization;
using ScottPlot;

namespace Dsl.Runtime.Output;

/// <summary>One row of a run's metrics.csv.</summary>
public sealed record EpochMetrics(int Epoch, double TrainLoss, double TrainAccuracy, double ValLoss, double ValAccuracy, double LearningRate = double.NaN);

/// <summary>Training curves drawn by ScottPlot: two panels, loss and accuracy per epoch, training and validation in
/// distinct colours, a legend giving each line's last value, the loss on a log scale when it spans a decade or more,
/// and a dashed line at each epoch where the learning rate stepped down after a steady stretch.</summary>
public static class Curves
{
    public const int Width = 1000, Height = 400;
    static readonly Color TrainColour = new(31, 119, 180), ValidationColour = new(230, 110, 10), RateColour = new(120, 120, 120);

    /// <summary>Reads metrics.csv by its header's column names; empty or NaN values stay NaN (no validation set).</summary>
    public static IReadOnlyList<EpochMetrics> Read(string csvPath)
    {
        var lines = File.ReadAllLines(csvPath).Where(l => l.Trim().Length > 0).ToArray();
        if (lines.Length == 0) throw new DataException($"{csvPath} is empty: it has no header line");
        var header = lines[0].Split(',').Select(h => h.Trim()).ToList();
        int Column(string name) => header.IndexOf(name) is int i and >= 0 ? i : throw new DataException($"{csvPath} has no {name} column");
        int epoch = Column("epoch"), tl = Column("train_loss"), ta = Column("train_accuracy"), vl = Column("val_loss"), va = Column("val_accuracy");
        // Older runs' files may lack the learning rate: their curves just have no drops marked.
        int lr = header.IndexOf("learning_rate");
        return lines.Skip(1).Select((line, n) =>
        {
            var f = line.Split(',');
            if (f.Length != header.Count) throw new DataException($"{csvPath}:{n + 2}: {f.Length} values for {header.Count} columns");
            double V(int i) => double.TryParse(f[i], NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : double.NaN;
            return new EpochMetrics((int)V(epoch), V(tl), V(ta), V(vl), V(va), lr >= 0 ? V(lr) : double.NaN);
        }).ToList();
    }

    public static byte[] Png(IReadOnlyList<EpochMetrics> epochs) => PlotStyle.Png(Width, Height, Panels(epochs));

    public static string Svg(IReadOnlyList<EpochMetrics> epochs) => PlotStyle.Svg(Width, Height, Panels(epochs));

    /// <summary>The loss and accuracy plots; at least one epoch.</summary>
    static Plot[] Panels(IReadOnlyList<EpochMetrics> epochs)
    {
        if (epochs.Count == 0) throw new ArgumentException("no epochs to plot");
        var xs = epochs.Select(e => (double)e.Epoch).ToArray();
        var trainLoss = epochs.Select(e => e.TrainLoss).ToArray();
        var valLoss = epochs.Select(e => e.ValLoss).ToArray();
        var positive = trainLoss.Concat(valLoss).Where(v => double.IsFinite(v)).ToArray();
        // A loss that falls from 2.3 to 0.02 is a flat line after the first epochs on a linear axis.
        bool log = positive.Length > 1 && positive.All(v => v > 0) && positive.Max() / positive.Min() >= 10;
        Func<double, double> toLoss = log ? Math.Log10 : v => v;

        var loss = Panel(xs, epochs, log ? "loss (log scale)" : "loss", Alignment.UpperRight,
            v => v.ToString(Math.Abs(v) < 10 ? "F3" : "G4", CultureInfo.InvariantCulture), toLoss,
            ("training", TrainColour, trainLoss), ("validation", ValidationColour, valLoss));
        if (log)
        {
            var ticks = new ScottPlot.TickGenerators.NumericAutomatic
            {
                IntegerTicksOnly = true,
                MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
                LabelFormatter = v => Math.Pow(10, v).ToString("G3", CultureInfo.InvariantCulture),
            };
            loss.Axes.Left.TickGenerator = ticks;
        }
        var accuracy = Panel(xs, epochs, "accuracy (%)", Alignment.LowerRight,
            v => (100 * v).ToString("F1", CultureInfo.InvariantCulture) + "%", v => 100 * v,
            ("training", TrainColour, epochs.Select(e => e.TrainAccuracy).ToArray()), ("validation", ValidationColour, epochs.Select(e => e.ValAccuracy).ToArray()));
        return [loss, accuracy];
    }

    static Plot Panel(double[] xs, IReadOnlyList<EpochMetrics> epochs, string yLabel, Alignment legend,
        Func<double, string> value, Func<double, double> toAxis, params (string name, Color colour, double[] values)[] series)
    {
        // The y axis names the panel; the space above the frame is for the learning-rate labels.
        var plot = PlotStyle.NewPlot();
        plot.Axes.Top.MinimumSize = 30;
        plot.XLabel("epoch");
        plot.YLabel(yLabel);
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
        foreach (var (name, colour, values) in series)
        {
            // An epoch without the value (no validation set, a NaN) is left out; the line joins its neighbours.
            var kept = Enumerable.Range(0, xs.Length).Where(i => double.IsFinite(values[i])).ToArray();
            if (kept.Length == 0) continue;
            var line = plot.Add.Scatter(kept.Select(i => xs[i]).ToArray(), kept.Select(i => toAxis(values[i])).ToArray(), colour);
            line.LineWidth = 2;
            // Markers show where the measurements are while there are few; beyond that they clutter.
            line.MarkerSize = xs.Length <= 40 ? 6 : 0;
            line.LegendText = $"{name} {value(values[kept[^1]])}";
        }
        // A step down after a steady stretch (a step schedule, reduce-on-plateau), not a smooth schedule's every epoch.
        for (int i = 2; i < epochs.Count; i++)
        {
            double before = epochs[i - 1].LearningRate, after = epochs[i].LearningRate;
            if (!(after < before && before == epochs[i - 2].LearningRate)) continue;
            var drop = plot.Add.VerticalLine(xs[i], 1.5f, RateColour, LinePattern.Dashed);
            drop.LabelText = string.Create(CultureInfo.InvariantCulture, $"lr {after:G3}");
            drop.LabelFontName = PlotStyle.FontName;
            // At the top, where it hides no epoch number.
            drop.LabelOppositeAxis = true;
        }
        plot.ShowLegend(legend);
        if (xs.Length == 1) plot.Axes.SetLimitsX(xs[0] - 1, xs[0] + 1);
        return plot;
    }
}
