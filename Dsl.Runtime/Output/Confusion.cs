using System.Globalization;

namespace Dsl.Runtime.Output;

/// <summary>A confusion matrix as a heat map: rows are true classes, columns predicted ones, each cell shaded by its
/// share of its row (so rare classes are as readable as common ones), its count written in it when it fits, class
/// names along both axes, and each class's recall at the end of its row.</summary>
public static class Confusion
{
    const int MaxName = 16;
    static readonly Rgb Background = new(255, 255, 255), Ink = new(50, 50, 50), Lines = new(225, 225, 225);
    static readonly Rgb Empty = new(247, 251, 255), Middle = new(107, 174, 214), Full = new(8, 48, 107);

    /// <summary>The heat map of <paramref name="counts"/>[true, predicted], classes named by <paramref name="classNames"/>
    /// (missing names become numbers; long ones are cut).</summary>
    public static Canvas Draw(int[,] counts, IReadOnlyList<string> classNames)
    {
        int k = counts.GetLength(0);
        if (k == 0 || counts.GetLength(1) != k) throw new ArgumentException($"a confusion matrix is square and not empty, not {k}x{counts.GetLength(1)}");
        var names = Enumerable.Range(0, k).Select(i => Short(i < classNames.Count ? classNames[i] : i.ToString(CultureInfo.InvariantCulture))).ToArray();
        var rowTotals = Enumerable.Range(0, k).Select(i => Enumerable.Range(0, k).Sum(j => (long)counts[i, j])).ToArray();
        long total = rowTotals.Sum(), correct = Enumerable.Range(0, k).Sum(i => (long)counts[i, i]);

        int cell = Math.Clamp(720 / k, 9, 56);
        int nameScale = cell >= 18 ? 2 : 1;
        int nameWidth = names.Max(n => Canvas.Measure(n, nameScale));
        string title = total == 0 ? "confusion matrix: no examples"
            : string.Create(CultureInfo.InvariantCulture, $"confusion matrix: {correct:N0} of {total:N0} correct ({100.0 * correct / total:F1}%)");
        const int big = 2 * Font5x7.Height; // text at the canvas's usual scale
        int left = 10 + big + 10 + nameWidth + 8, top = 10 + big + 12 + big + 8, side = k * cell;
        int recallWidth = Math.Max(Canvas.Measure("100%", nameScale), Canvas.Measure("recall", 2));
        int width = Math.Max(left + side + 10 + recallWidth + 10, 20 + Canvas.Measure(title, 2));
        int height = top + side + 8 + nameWidth + 10 + big + 10;
        var canvas = new Canvas(width, height, Background);

        canvas.Text(10, 10 + big / 2, title, Ink);
        canvas.Text(10 + big / 2, top + side / 2.0, "true", Ink, Align.Middle, vertical: true);
        canvas.Text(left + side / 2.0, height - 10 - big / 2, "predicted", Ink, Align.Middle);
        canvas.Text(left + side + 10, top - 8 - big / 2, "recall", Ink);
        canvas.Rectangle(left - 1, top - 1, side + 1, side + 1, Lines);
        for (int i = 0; i < k; i++)
        {
            for (int j = 0; j < k; j++)
            {
                double share = rowTotals[i] == 0 ? 0 : (double)counts[i, j] / rowTotals[i];
                var fill = share < 0.5 ? Rgb.Lerp(Empty, Middle, share * 2) : Rgb.Lerp(Middle, Full, share * 2 - 1);
                canvas.Rectangle(left + j * cell, top + i * cell, cell - 1, cell - 1, fill);
                WriteCount(canvas, counts[i, j].ToString(CultureInfo.InvariantCulture), left + j * cell, top + i * cell, cell - 1,
                    share > 0.45 ? Background : Ink);
            }
            canvas.TextScale = nameScale;
            double centre = top + i * cell + (cell - 1) / 2.0;
            canvas.Text(left - 8, centre, names[i], Ink, Align.End);
            canvas.Text(left + (i + 0.5) * cell - 0.5, top + side + 8, names[i], Ink, Align.End, vertical: true);
            if (rowTotals[i] > 0)
                canvas.Text(left + side + 10, centre, string.Create(CultureInfo.InvariantCulture, $"{100.0 * counts[i, i] / rowTotals[i]:F0}%"), Ink);
            canvas.TextScale = 2;
        }
        return canvas;
    }

    static string Short(string name) => name.Length <= MaxName ? name : name[..(MaxName - 1)] + ".";

    /// <summary>The count at the larger size that fits the cell with a margin, or not at all.</summary>
    static void WriteCount(Canvas canvas, string text, int x, int y, int cell, Rgb colour)
    {
        foreach (int scale in new[] { 2, 1 })
        {
            canvas.TextScale = scale;
            if (canvas.TextWidth(text) <= cell - 6 && canvas.TextHeight <= cell - 6)
            {
                canvas.Text(x + cell / 2.0, y + cell / 2.0, text, colour, Align.Middle);
                break;
            }
        }
        canvas.TextScale = 2;
    }
}
