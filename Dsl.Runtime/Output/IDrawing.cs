namespace Dsl.Runtime.Output;

/// <summary>A colour, 8 bits a channel.</summary>
public readonly record struct Rgb(byte R, byte G, byte B)
{
    public static Rgb Lerp(Rgb a, Rgb b, double t) => new(Mix(a.R, b.R, t), Mix(a.G, b.G, t), Mix(a.B, b.B, t));
    static byte Mix(byte a, byte b, double t) => (byte)Math.Round(a + (b - a) * Math.Clamp(t, 0, 1));
    public string Hex => $"#{R:x2}{G:x2}{B:x2}";
}

/// <summary>Where a text's anchor lies along it.</summary>
public enum Align { Start, Middle, End }

/// <summary>What a chart draws with, so one layout makes both the PNG (<see cref="Canvas"/>) and the SVG
/// (<see cref="SvgDrawing"/>). Coordinates are pixels from the top left.</summary>
public interface IDrawing
{
    int Width { get; }
    int Height { get; }
    void Rectangle(double x, double y, double width, double height, Rgb fill);
    /// <summary>A line through the points; a non-finite point breaks it in two.</summary>
    void Polyline(IReadOnlyList<(double x, double y)> points, Rgb colour, double thickness);
    void Circle(double x, double y, double radius, Rgb fill);
    /// <summary>One line of text, vertically centred on <paramref name="y"/>; <paramref name="vertical"/> reads bottom to top.</summary>
    void Text(double x, double y, string text, Rgb colour, Align align = Align.Start, bool vertical = false);
    double TextWidth(string text);
    double TextHeight { get; }
}
