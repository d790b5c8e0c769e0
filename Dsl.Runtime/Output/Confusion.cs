using System.Globalization;
using ScottPlot;
using SkiaSharp;

namespace Dsl.Runtime.Output;

/// <summary>A confusion matrix as a ScottPlot heat map: rows are true classes, columns predicted ones, each cell shaded by
/// its share of its row (so rare classes are as readable as common ones), its count written in it when it fits, class
/// names along both axes, and each class's recall at the end of its row.</summary>
public static class Confusion
{
    const int MaxName = 16;
    const float NameSize = 12, CountSize = 12;

    /// <summary>The heat map of <paramref name="counts"/>[true, predicted] as a PNG file, classes named by
    /// <paramref name="classNames"/> (missing names become numbers; long ones are cut).</summary>
    public static byte[] Png(int[,] counts, IReadOnlyList<string> classNames)
    {
        var (plot, width, height) = Draw(counts, classNames);
        return PlotStyle.Png(width, height, [plot]);
    }

    static (Plot plot, int width, int height) Draw(int[,] counts, IReadOnlyList<string> classNames)
    {
        int k = counts.GetLength(0);
        if (k == 0 || counts.GetLength(1) != k) throw new ArgumentException($"a confusion matrix is square and not empty, not {k}x{counts.GetLength(1)}");
        var names = Enumerable.Range(0, k).Select(i => Short(i < classNames.Count ? classNames[i] : i.ToString(CultureInfo.InvariantCulture))).ToArray();
        var rowTotals = Enumerable.Range(0, k).Select(i => Enumerable.Range(0, k).Sum(j => (long)counts[i, j])).ToArray();
        long total = rowTotals.Sum(), correct = Enumerable.Range(0, k).Sum(i => (long)counts[i, i]);

        var shares = new double[k, k];
        for (int i = 0; i < k; i++)
            for (int j = 0; j < k; j++) shares[i, j] = rowTotals[i] == 0 ? 0 : (double)counts[i, j] / rowTotals[i];

        int cell = Math.Clamp(720 / k, 9, 56), side = k * cell;
        using var font = new SKFont(PlotStyle.Typeface, NameSize);
        int nameWidth = (int)Math.Ceiling(names.Max(n => font.MeasureText(n)));
        // Fixed margins: the cells stay square and the names always fit, whatever ScottPlot's automatic layout would do.
        var padding = new PixelPadding(nameWidth + 50, 70, nameWidth + 50, 50);
        int width = (int)(padding.Left + side + padding.Right), height = (int)(padding.Top + side + padding.Bottom);

        var plot = PlotStyle.NewPlot();
        plot.Layout.Fixed(padding);
        plot.Title(total == 0 ? "confusion matrix: no examples"
            : string.Create(CultureInfo.InvariantCulture, $"confusion matrix: {correct:N0} of {total:N0} correct ({100.0 * correct / total:F1}%)"));
        var map = plot.Add.Heatmap(shares);
        // Blues runs from dark to light; reversed, an empty cell is white and a full one dark blue.
        map.Colormap = new ScottPlot.Colormaps.Blues().Reversed();
        map.ManualRange = new ScottPlot.Range(0, 1);
        // ScottPlot centres cell [i, j] on x = j, y = k - 1 - i: the first class is at the top, as in a table.
        plot.Axes.SetLimits(-0.5, k - 0.5, -0.5, k - 0.5);

        using var countFont = new SKFont(PlotStyle.Typeface, CountSize);
        for (int i = 0; i < k; i++)
            for (int j = 0; j < k; j++)
            {
                var text = counts[i, j].ToString(CultureInfo.InvariantCulture);
                if (countFont.MeasureText(text) > cell - 6 || CountSize > cell - 4) continue;
                var label = plot.Add.Text(text, j, k - 1 - i);
                label.LabelFontName = PlotStyle.FontName;
                label.LabelFontSize = CountSize;
                label.LabelAlignment = Alignment.MiddleCenter;
                label.LabelFontColor = shares[i, j] > 0.45 ? Colors.White : new Color(50, 50, 50);
            }

        var rows = new ScottPlot.TickGenerators.NumericManual();
        var columns = new ScottPlot.TickGenerators.NumericManual();
        var recall = new ScottPlot.TickGenerators.NumericManual();
        for (int i = 0; i < k; i++)
        {
            rows.AddMajor(k - 1 - i, names[i]);
            columns.AddMajor(i, names[i]);
            recall.AddMajor(k - 1 - i, rowTotals[i] == 0 ? "" : string.Create(CultureInfo.InvariantCulture, $"{100.0 * counts[i, i] / rowTotals[i]:F0}%"));
        }
        plot.Axes.Left.TickGenerator = rows;
        plot.Axes.Bottom.TickGenerator = columns;
        // Column names read upwards, ending under their column; ScottPlot does not measure turned labels, so the axis
        // title moves down past them by hand.
        plot.Axes.Bottom.TickLabelStyle.Rotation = -90;
        plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleRight;
        plot.Axes.Bottom.Label.OffsetY = nameWidth - NameSize;
        plot.Axes.Right.TickGenerator = recall;
        plot.Axes.SetLimitsY(-0.5, k - 0.5, plot.Axes.Right);
        plot.Axes.Right.Label.Text = "recall";
        plot.YLabel("true class");
        plot.XLabel("predicted class");
        foreach (var axis in new IAxis[] { plot.Axes.Left, plot.Axes.Bottom, plot.Axes.Right })
        {
            axis.TickLabelStyle.FontName = PlotStyle.FontName;
            axis.TickLabelStyle.FontSize = NameSize;
            axis.Label.FontName = PlotStyle.FontName;
        }
        plot.Grid.IsVisible = false;
        return (plot, width, height);
    }

    static string Short(string name) => name.Length <= MaxName ? name : name[..(MaxName - 1)] + ".";
}
