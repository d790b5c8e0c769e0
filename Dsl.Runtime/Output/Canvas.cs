using Dsl.Runtime.Images;

namespace Dsl.Runtime.Output;

/// <summary>An RGB picture in memory with the drawing the plots need: rectangles, anti-aliased lines and discs, and
/// text in the built-in 5x7 font enlarged by whole pixels (<see cref="TextScale"/>), crisp at any size.</summary>
public sealed class Canvas : IDrawing
{
    public Canvas(int width, int height, Rgb background, int textScale = 2)
    {
        (Width, Height, TextScale) = (width, height, textScale);
        Pixels = new byte[width * height * 3];
        Rectangle(0, 0, width, height, background);
    }

    public int Width { get; }
    public int Height { get; }
    /// <summary>Pixels per font dot.</summary>
    public int TextScale { get; set; }
    /// <summary>Rows top to bottom, three bytes a pixel.</summary>
    public byte[] Pixels { get; }

    public Image ToImage() => new(Width, Height, 3, Pixels);
    public byte[] ToPng() => Png.Encode(ToImage());

    /// <summary>Mixes <paramref name="colour"/> into one pixel with weight <paramref name="alpha"/>; outside the canvas, nothing.</summary>
    public void Blend(int x, int y, Rgb colour, double alpha)
    {
        if ((uint)x >= Width || (uint)y >= Height || alpha <= 0) return;
        int i = (y * Width + x) * 3;
        var mixed = Rgb.Lerp(new Rgb(Pixels[i], Pixels[i + 1], Pixels[i + 2]), colour, alpha);
        (Pixels[i], Pixels[i + 1], Pixels[i + 2]) = (mixed.R, mixed.G, mixed.B);
    }

    public void Rectangle(double x, double y, double width, double height, Rgb fill)
    {
        int x0 = Math.Max(0, (int)Math.Round(x)), y0 = Math.Max(0, (int)Math.Round(y));
        int x1 = Math.Min(Width, (int)Math.Round(x + width)), y1 = Math.Min(Height, (int)Math.Round(y + height));
        for (int py = y0; py < y1; py++)
            for (int px = x0; px < x1; px++)
                Blend(px, py, fill, 1);
    }

    public void Polyline(IReadOnlyList<(double x, double y)> points, Rgb colour, double thickness)
    {
        for (int i = 1; i < points.Count; i++)
            if (Finite(points[i - 1]) && Finite(points[i]))
                Segment(points[i - 1], points[i], colour, thickness);
    }

    static bool Finite((double x, double y) p) => double.IsFinite(p.x) && double.IsFinite(p.y);

    /// <summary>Each pixel near the segment is covered by how far its centre lies inside the stroke: smooth edges at any angle.</summary>
    void Segment((double x, double y) a, (double x, double y) b, Rgb colour, double thickness)
    {
        double half = thickness / 2, pad = half + 1;
        int x0 = (int)Math.Floor(Math.Min(a.x, b.x) - pad), x1 = (int)Math.Ceiling(Math.Max(a.x, b.x) + pad);
        int y0 = (int)Math.Floor(Math.Min(a.y, b.y) - pad), y1 = (int)Math.Ceiling(Math.Max(a.y, b.y) + pad);
        double dx = b.x - a.x, dy = b.y - a.y, length2 = dx * dx + dy * dy;
        for (int py = Math.Max(0, y0); py <= Math.Min(Height - 1, y1); py++)
            for (int px = Math.Max(0, x0); px <= Math.Min(Width - 1, x1); px++)
            {
                double cx = px + 0.5, cy = py + 0.5;
                double t = length2 == 0 ? 0 : Math.Clamp(((cx - a.x) * dx + (cy - a.y) * dy) / length2, 0, 1);
                double distance = Math.Sqrt(Math.Pow(cx - a.x - t * dx, 2) + Math.Pow(cy - a.y - t * dy, 2));
                Blend(px, py, colour, Math.Clamp(half + 0.5 - distance, 0, 1));
            }
    }

    public void Circle(double x, double y, double radius, Rgb fill) => Segment((x, y), (x, y), fill, 2 * radius);

    public double TextHeight => Font5x7.Height * TextScale;

    public double TextWidth(string text) => Measure(text, TextScale);

    /// <summary>The width in pixels of <paramref name="text"/> at <paramref name="scale"/>, for layout before there is a canvas.</summary>
    public static int Measure(string text, int scale) => text.Length == 0 ? 0 : (text.Length * Font5x7.Advance - 1) * scale;

    public void Text(double x, double y, string text, Rgb colour, Align align = Align.Start, bool vertical = false)
    {
        double shift = align switch { Align.Middle => TextWidth(text) / 2, Align.End => TextWidth(text), _ => 0 };
        int s = TextScale;
        // Along the text: u; across it: v, 0 at the glyphs' top. Vertical text turns both a quarter to the left.
        int u0 = (int)Math.Round((vertical ? -y : x) - shift), v0 = (int)Math.Round((vertical ? x : y) - TextHeight / 2);
        for (int i = 0; i < text.Length; i++)
            for (int gx = 0; gx < Font5x7.Width; gx++)
                for (int gy = 0; gy < Font5x7.Height; gy++)
                {
                    if (!Font5x7.Dot(text[i], gx, gy)) continue;
                    int u = u0 + (i * Font5x7.Advance + gx) * s, v = v0 + gy * s;
                    for (int a = 0; a < s; a++)
                        for (int b = 0; b < s; b++)
                            if (vertical) Blend(v + b, -(u + a), colour, 1);
                            else Blend(u + a, v + b, colour, 1);
                }
    }
}
