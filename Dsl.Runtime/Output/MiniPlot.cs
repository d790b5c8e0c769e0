using System.Globalization;
using System.Net;
using System.Text;

namespace Dsl.Runtime.Output;

/// <summary>A small line plot as inline SVG for the report page: one polyline per series, a linear or log10 y axis
/// labelled at its ends, the series named in a legend.</summary>
public static class MiniPlot
{
    static readonly string[] Colours = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
    const int W = 320, H = 180, Left = 52, Right = 8, Top = 22, Bottom = 34;

    public static string Svg(string title, IReadOnlyList<(string Name, List<(double X, double Y)> Points)> series, bool log, string xLabel)
    {
        static string F(double v) => v.ToString("0.#", CultureInfo.InvariantCulture);
        double Y(double v) => log ? Math.Log10(v) : v;
        var points = series.SelectMany(s => s.Points).Where(p => double.IsFinite(Y(p.Y))).ToList();
        var svg = new StringBuilder($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H + 14 * series.Count}\" font-family=\"sans-serif\" font-size=\"10\">");
        svg.Append($"<text x=\"{W / 2}\" y=\"13\" text-anchor=\"middle\" font-size=\"12\">{WebUtility.HtmlEncode(title)}{(log ? " (log scale)" : "")}</text>");
        svg.Append($"<rect x=\"{Left}\" y=\"{Top}\" width=\"{W - Left - Right}\" height=\"{H - Top - Bottom}\" fill=\"none\" stroke=\"#999\"/>");
        if (points.Count > 0)
        {
            double x0 = points.Min(p => p.X), x1 = points.Max(p => p.X), y0 = points.Min(p => Y(p.Y)), y1 = points.Max(p => Y(p.Y));
            if (x1 == x0) x1 = x0 + 1;
            if (y1 == y0) { y0 -= 0.5; y1 += 0.5; }
            double Px(double x) => Left + (x - x0) / (x1 - x0) * (W - Left - Right);
            double Py(double y) => H - Bottom - (y - y0) / (y1 - y0) * (H - Top - Bottom);
            string Label(double y) => (log ? Math.Pow(10, y) : y).ToString("G3", CultureInfo.InvariantCulture);
            svg.Append($"<text x=\"{Left - 3}\" y=\"{Top + 8}\" text-anchor=\"end\">{Label(y1)}</text><text x=\"{Left - 3}\" y=\"{H - Bottom}\" text-anchor=\"end\">{Label(y0)}</text>");
            svg.Append($"<text x=\"{Left}\" y=\"{H - Bottom + 12}\">{F(x0)}</text><text x=\"{W - Right}\" y=\"{H - Bottom + 12}\" text-anchor=\"end\">{F(x1)}</text>");
            svg.Append($"<text x=\"{(Left + W - Right) / 2}\" y=\"{H - Bottom + 12}\" text-anchor=\"middle\">{WebUtility.HtmlEncode(xLabel)}</text>");
            for (int i = 0; i < series.Count; i++)
            {
                var (name, pts) = series[i];
                var colour = Colours[i % Colours.Length];
                var line = string.Join(" ", pts.Where(p => double.IsFinite(Y(p.Y))).Select(p => $"{F(Px(p.X))},{F(Py(Y(p.Y)))}"));
                svg.Append($"<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.5\" points=\"{line}\"/>");
                if (pts.Count == 1) svg.Append($"<circle cx=\"{F(Px(pts[0].X))}\" cy=\"{F(Py(Y(pts[0].Y)))}\" r=\"2.5\" fill=\"{colour}\"/>");
                svg.Append($"<rect x=\"{Left}\" y=\"{H - 10 + 14 * i}\" width=\"10\" height=\"3\" fill=\"{colour}\"/><text x=\"{Left + 14}\" y=\"{H - 6 + 14 * i}\">{WebUtility.HtmlEncode(name)}</text>");
            }
        }
        else svg.Append($"<text x=\"{W / 2}\" y=\"{H / 2}\" text-anchor=\"middle\">no finite values</text>");
        return svg.Append("</svg>").ToString();
    }
}
