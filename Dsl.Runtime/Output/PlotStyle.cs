using System.Reflection;
using ScottPlot;
using SkiaSharp;

namespace Dsl.Runtime.Output;

/// <summary>What every picture shares: DejaVu Sans, shipped inside this assembly (Fonts/DejaVuSans.ttf, Bitstream Vera
/// licence beside it) and handed to ScottPlot before any system font, so text looks the same on a machine with no
/// fonts installed; and the writing of a plot as PNG and SVG.</summary>
static class PlotStyle
{
    public const string FontName = "DejaVu Sans";

    /// <summary>The shipped typeface, read once.</summary>
    public static SKTypeface Typeface => Shipped.Value;

    static readonly Lazy<SKTypeface> Shipped = new(() =>
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("Dsl.Runtime.Output.Fonts.DejaVuSans.ttf")
            ?? throw new InvalidOperationException("the runtime was built without its font (Output/Fonts/DejaVuSans.ttf)");
        var typeface = SKTypeface.FromStream(stream) ?? throw new InvalidOperationException("Output/Fonts/DejaVuSans.ttf is not a font Skia reads");
        Fonts.FontResolvers.Insert(0, new Resolver(typeface));
        return typeface;
    });

    /// <summary>Answers every font name, bold and italic included, with the shipped face: whatever name a ScottPlot
    /// element asks for, no text is drawn with a font of the machine's.</summary>
    sealed class Resolver(SKTypeface typeface) : IFontResolver
    {
        public SKTypeface? CreateTypeface(string fontName, bool bold, bool italic) => typeface;
        public SKTypeface? CreateTypeface(string fontName, FontWeight weight, FontSlant slant, FontSpacing width) => typeface;
    }

    /// <summary>A new plot whose every text uses the shipped font.</summary>
    public static Plot NewPlot()
    {
        _ = Typeface;
        var plot = new Plot();
        plot.Font.Set(FontName);
        plot.Legend.FontName = FontName;
        return plot;
    }

    /// <summary>Draws plots side by side, each given its share of the width, onto a canvas.</summary>
    public static void Render(SKCanvas canvas, int width, int height, IReadOnlyList<Plot> plots)
    {
        canvas.Clear(SKColors.White);
        float share = (float)width / plots.Count;
        for (int i = 0; i < plots.Count; i++)
        {
            // ScottPlot clears the whole canvas before drawing a plot: each gets its own clipped, shifted stretch.
            canvas.Save();
            canvas.ClipRect(SKRect.Create(i * share, 0, share, height));
            canvas.Translate(i * share, 0);
            plots[i].Render(canvas, new PixelRect(0, share, height, 0));
            canvas.Restore();
        }
    }

    public static byte[] Png(int width, int height, IReadOnlyList<Plot> plots)
    {
        using var surface = SKSurface.Create(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul));
        Render(surface.Canvas, width, height, plots);
        using var image = surface.Snapshot();
        using var png = image.Encode(SKEncodedImageFormat.Png, 100);
        return png.ToArray();
    }

    public static string Svg(int width, int height, IReadOnlyList<Plot> plots)
    {
        using var stream = new MemoryStream();
        using (var canvas = SKSvgCanvas.Create(SKRect.Create(width, height), stream))
            Render(canvas, width, height, plots);
        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }
}
