using System.Globalization;

namespace Dsl.Runtime.Output;

/// <summary>One row of a run's metrics.csv.</summary>
public sealed record EpochMetrics(int Epoch, double TrainLoss, double TrainAccuracy, double ValLoss, double ValAccuracy);

/// <summary>Training curves: two panels, loss and accuracy per epoch, training and validation in distinct colours,
/// with ticks, gridlines and a legend giving each line's last value, placed where it hides the fewest points.</summary>
public static class Curves
{
    public const int Width = 1000, Height = 400;
    static readonly Rgb Background = new(255, 255, 255), Frame = new(150, 150, 150), Grid = new(232, 232, 232), Ink = new(50, 50, 50);
    static readonly Rgb TrainColour = new(31, 119, 180), ValidationColour = new(230, 110, 10);

    /// <summary>Reads metrics.csv by its header's column names; empty or NaN values stay NaN (no validation set).</summary>
    public static IReadOnlyList<EpochMetrics> Read(string csvPath)
    {
        var lines = File.ReadAllLines(csvPath).Where(l => l.Trim().Length > 0).ToArray();
        if (lines.Length == 0) throw new DataException($"{csvPath} is empty: it has no header line");
        var header = lines[0].Split(',').Select(h => h.Trim()).ToList();
        int Column(string name) => header.IndexOf(name) is int i and >= 0 ? i : throw new DataException($"{csvPath} has no {name} column");
        int epoch = Column("epoch"), tl = Column("train_loss"), ta = Column("train_accuracy"), vl = Column("val_loss"), va = Column("val_accuracy");
        return lines.Skip(1).Select((line, n) =>
        {
            var f = line.Split(',');
            if (f.Length != header.Count) throw new DataException($"{csvPath}:{n + 2}: {f.Length} values for {header.Count} columns");
            double V(int i) => double.TryParse(f[i], NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : double.NaN;
            return new EpochMetrics((int)V(epoch), V(tl), V(ta), V(vl), V(va));
        }).ToList();
    }

    public static byte[] Png(IReadOnlyList<EpochMetrics> epochs)
    {
        var canvas = new Canvas(Width, Height, Background);
        Draw(canvas, epochs);
        return canvas.ToPng();
    }

    public static string Svg(IReadOnlyList<EpochMetrics> epochs)
    {
        var svg = new SvgDrawing(Width, Height, Background);
        Draw(svg, epochs);
        return svg.ToString();
    }

    /// <summary>Both panels onto <paramref name="d"/>; at least one epoch.</summary>
    public static void Draw(IDrawing d, IReadOnlyList<EpochMetrics> epochs)
    {
        if (epochs.Count == 0) throw new ArgumentException("no epochs to plot");
        var xs = epochs.Select(e => (double)e.Epoch).ToArray();
        var x = new Axis(xs.Min(), xs.Max(), Math.Clamp(xs.Length - 1, 2, 10), integers: true);
        double half = d.Width / 2.0;
        Panel(d, 0, half, "loss", x, xs, v => new Axis(v.Min(), v.Max()), (a, v) => a.Label(v), v => v.ToString(Math.Abs(v) < 10 ? "F3" : "G4", CultureInfo.InvariantCulture),
            ("training", TrainColour, epochs.Select(e => e.TrainLoss).ToArray()),
            ("validation", ValidationColour, epochs.Select(e => e.ValLoss).ToArray()));
        Panel(d, half, half, "accuracy", x, xs, v => new Axis(v.Min(), v.Max(), lowest: 0, highest: 1), (a, v) => a.Label(v, 100, "%"),
            v => (100 * v).ToString("F1", CultureInfo.InvariantCulture) + "%",
            ("training", TrainColour, epochs.Select(e => e.TrainAccuracy).ToArray()),
            ("validation", ValidationColour, epochs.Select(e => e.ValAccuracy).ToArray()));
    }

    static void Panel(IDrawing d, double left, double width, string title, Axis x, double[] xs, Func<double[], Axis> makeY,
        Func<Axis, double, string> label, Func<double, string> value, params (string name, Rgb colour, double[] values)[] series)
    {
        var shown = series.Where(s => s.values.Any(double.IsFinite)).ToArray();
        var finite = shown.SelectMany(s => s.values).Where(double.IsFinite).ToArray();
        var y = makeY(finite.Length > 0 ? finite : [0, 1]);
        var yTicks = y.Ticks().ToArray();
        double th = d.TextHeight;
        double plotLeft = left + 16 + yTicks.Max(t => d.TextWidth(label(y, t))), plotRight = left + width - 24;
        double plotTop = 16 + 2 * th, plotBottom = d.Height - 20 - 2.5 * th;
        // The first and last epochs sit a little inside the frame, so their markers and the legend stay clear of it.
        double X(double v) => x.Map(v, plotLeft + 10, plotRight - 10);
        double Y(double v) => y.Map(v, plotBottom, plotTop);

        d.Text((plotLeft + plotRight) / 2, 12 + th / 2, title, Ink, Align.Middle);
        foreach (var t in yTicks)
        {
            d.Rectangle(plotLeft, Math.Round(Y(t)), plotRight - plotLeft, 1, Grid);
            d.Text(plotLeft - 8, Y(t), label(y, t), Ink, Align.End);
        }
        foreach (var t in x.Ticks())
        {
            d.Rectangle(Math.Round(X(t)), plotBottom, 1, 5, Frame);
            d.Text(X(t), plotBottom + 10 + th / 2, t.ToString(CultureInfo.InvariantCulture), Ink, Align.Middle);
        }
        d.Text((plotLeft + plotRight) / 2, plotBottom + 20 + 1.5 * th, "epoch", Ink, Align.Middle);
        Box(d, plotLeft, plotTop, plotRight - plotLeft, plotBottom - plotTop, Frame);

        var points = new List<(double x, double y)>();
        foreach (var (_, colour, values) in shown)
        {
            var line = xs.Select((e, i) => (X(e), double.IsFinite(values[i]) ? Y(values[i]) : double.NaN)).ToList();
            d.Polyline(line, colour, 2);
            // Markers show where the measurements are while there are few; beyond that they clutter.
            if (xs.Length <= 40)
                foreach (var p in line.Where(p => double.IsFinite(p.Item2))) d.Circle(p.Item1, p.Item2, 3, colour);
            // The legend avoids the lines as well as the markers: sample each segment.
            for (int i = 1; i < line.Count; i++)
                for (int t = 0; t < 16; t++)
                    points.Add((line[i - 1].Item1 + (line[i].Item1 - line[i - 1].Item1) * t / 16, line[i - 1].Item2 + (line[i].Item2 - line[i - 1].Item2) * t / 16));
            points.AddRange(line);
        }
        if (shown.Length > 0)
            Legend(d, shown.Select(s => ($"{s.name} {value(s.values.Last(double.IsFinite))}", s.colour)).ToArray(), points, plotLeft, plotTop, plotRight, plotBottom);
    }

    static void Legend(IDrawing d, (string text, Rgb colour)[] entries, List<(double x, double y)> points,
        double left, double top, double right, double bottom)
    {
        double th = d.TextHeight, row = th + 8, w = 40 + entries.Max(e => d.TextWidth(e.text)), h = entries.Length * row + 8;
        // Candidates in order of preference: the corners on the right, on the left, then the middles of the sides.
        double r = right - w - 8, l = left + 8, t = top + 8, b = bottom - h - 8, m = (top + bottom - h) / 2;
        var corners = new[] { (r, t), (r, b), (l, t), (l, b), (r, m), (l, m), ((left + right - w) / 2, t), ((left + right - w) / 2, b) };
        var (bx, by) = corners.MinBy(c => points.Count(p => p.x >= c.Item1 - 4 && p.x <= c.Item1 + w + 4 && p.y >= c.Item2 - 4 && p.y <= c.Item2 + h + 4));
        d.Rectangle(bx, by, w, h, new Rgb(255, 255, 255));
        Box(d, bx, by, w, h, new Rgb(200, 200, 200));
        for (int i = 0; i < entries.Length; i++)
        {
            double cy = by + 4 + row * (i + 0.5);
            d.Polyline([(bx + 8, cy), (bx + 30, cy)], entries[i].colour, 2);
            d.Circle(bx + 19, cy, 3, entries[i].colour);
            d.Text(bx + 36, cy, entries[i].text, Ink);
        }
    }

    /// <summary>A one-pixel outline.</summary>
    static void Box(IDrawing d, double x, double y, double w, double h, Rgb colour)
    {
        d.Rectangle(x, y, w, 1, colour);
        d.Rectangle(x, y + h, w + 1, 1, colour);
        d.Rectangle(x, y, 1, h, colour);
        d.Rectangle(x + w, y, 1, h, colour);
    }
}
