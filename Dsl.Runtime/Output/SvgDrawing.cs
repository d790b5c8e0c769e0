using System.Globalization;
using System.Net;
using System.Text;

namespace Dsl.Runtime.Output;

/// <summary>An SVG document built with the same calls as a <see cref="Canvas"/>: plain text a browser scales without
/// blur, with polylines for curves and real text for labels.</summary>
public sealed class SvgDrawing(int width, int height, Rgb background) : IDrawing
{
    const double FontSize = 13;
    readonly StringBuilder body = new();

    public int Width => width;
    public int Height => height;
    public double TextHeight => FontSize;

    /// <summary>Sans-serif glyphs average about 0.58 em; layout needs only an estimate.</summary>
    public double TextWidth(string text) => text.Length * FontSize * 0.58;

    static string N(double v) => Math.Round(v, 2).ToString(CultureInfo.InvariantCulture);

    public void Rectangle(double x, double y, double w, double h, Rgb fill) =>
        body.Append($"<rect x=\"{N(x)}\" y=\"{N(y)}\" width=\"{N(w)}\" height=\"{N(h)}\" fill=\"{fill.Hex}\" stroke=\"none\"/>\n");

    public void Polyline(IReadOnlyList<(double x, double y)> points, Rgb colour, double thickness)
    {
        var run = new List<string>();
        void Flush()
        {
            if (run.Count > 1)
                body.Append($"<polyline fill=\"none\" stroke=\"{colour.Hex}\" stroke-width=\"{N(thickness)}\" stroke-linejoin=\"round\" points=\"{string.Join(' ', run)}\"/>\n");
            run.Clear();
        }
        foreach (var (x, y) in points)
            if (double.IsFinite(x) && double.IsFinite(y)) run.Add($"{N(x)},{N(y)}");
            else Flush();
        Flush();
    }

    public void Circle(double x, double y, double radius, Rgb fill) =>
        body.Append($"<circle cx=\"{N(x)}\" cy=\"{N(y)}\" r=\"{N(radius)}\" fill=\"{fill.Hex}\" stroke=\"none\"/>\n");

    public void Text(double x, double y, string text, Rgb colour, Align align = Align.Start, bool vertical = false)
    {
        string anchor = align switch { Align.Middle => "middle", Align.End => "end", _ => "start" };
        string turn = vertical ? $" transform=\"rotate(-90 {N(x)} {N(y)})\"" : "";
        body.Append($"<text x=\"{N(x)}\" y=\"{N(y)}\" fill=\"{colour.Hex}\" text-anchor=\"{anchor}\" dominant-baseline=\"central\"{turn}>{WebUtility.HtmlEncode(text)}</text>\n");
    }

    public override string ToString() =>
        $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" " +
        $"font-family=\"sans-serif\" font-size=\"{N(FontSize)}\">\n<rect width=\"100%\" height=\"100%\" fill=\"{background.Hex}\" stroke=\"none\"/>\n{body}</svg>\n";
}
