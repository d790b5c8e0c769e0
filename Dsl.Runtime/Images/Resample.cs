namespace Dsl.Runtime.Images;

/// <summary>Resizing with PIL's bilinear filter: a triangle whose support widens with the reduction, so a large photo
/// shrunk to 32 pixels averages every source pixel rather than sampling a few and aliasing.</summary>
public static class Resample
{
    /// <summary>The image resized so its shorter side is <paramref name="side"/>, then cropped to the centred square:
    /// computed as the centred square of the source resized to side x side, the same picture for a fraction of the work.</summary>
    public static Image CentreSquare(Image image, int side)
    {
        int s = Math.Min(image.Width, image.Height);
        return Resize(image, (image.Width - s) / 2.0, (image.Height - s) / 2.0, s, s, side, side);
    }

    /// <summary>The source box at (<paramref name="x0"/>, <paramref name="y0"/>) of size <paramref name="boxWidth"/> x
    /// <paramref name="boxHeight"/> (in pixels, fractions allowed) resized to <paramref name="width"/> x <paramref name="height"/>.</summary>
    public static Image Resize(Image image, double x0, double y0, double boxWidth, double boxHeight, int width, int height)
    {
        int c = image.Channels, srcW = image.Width;
        var cols = Weights(image.Width, x0, boxWidth, width);
        var rows = Weights(image.Height, y0, boxHeight, height);
        int firstRow = rows.Min(r => r.start), lastRow = rows.Max(r => r.start + r.weights.Length);
        // Horizontal pass over the rows the vertical pass reads, into floats; then vertical into bytes.
        var across = new float[(lastRow - firstRow) * width * c];
        for (int y = firstRow; y < lastRow; y++)
        {
            var src = image.Pixels.AsSpan(y * srcW * c, srcW * c);
            var dst = across.AsSpan((y - firstRow) * width * c, width * c);
            for (int x = 0; x < width; x++)
            {
                var (start, w) = cols[x];
                for (int ch = 0; ch < c; ch++)
                {
                    float sum = 0;
                    for (int k = 0; k < w.Length; k++) sum += w[k] * src[(start + k) * c + ch];
                    dst[x * c + ch] = sum;
                }
            }
        }
        var output = new byte[width * height * c];
        int rowFloats = width * c;
        for (int y = 0; y < height; y++)
        {
            var (start, w) = rows[y];
            for (int i = 0; i < rowFloats; i++)
            {
                float sum = 0;
                for (int k = 0; k < w.Length; k++) sum += w[k] * across[(start - firstRow + k) * rowFloats + i];
                output[y * rowFloats + i] = (byte)Math.Clamp(MathF.Round(sum), 0, 255);
            }
        }
        return new Image(width, height, c, output);
    }

    /// <summary>For each output position along one axis: the first source pixel it reads and the normalised weights.</summary>
    static (int start, float[] weights)[] Weights(int sourceLength, double boxStart, double boxLength, int outputLength)
    {
        double scale = boxLength / outputLength, support = Math.Max(1, scale);
        var table = new (int, float[])[outputLength];
        for (int i = 0; i < outputLength; i++)
        {
            double centre = boxStart + (i + 0.5) * scale;
            int lo = Math.Clamp((int)Math.Floor(centre - support), 0, sourceLength - 1);
            int hi = Math.Clamp((int)Math.Ceiling(centre + support), lo + 1, sourceLength);
            var w = new float[hi - lo];
            double total = 0;
            for (int j = lo; j < hi; j++)
            {
                double t = Math.Max(0, 1 - Math.Abs((j + 0.5 - centre) / support));
                w[j - lo] = (float)t;
                total += t;
            }
            // A box at the very edge can miss every pixel centre; it then takes the nearest pixel.
            if (total == 0) { Array.Clear(w); w[Math.Clamp((int)centre - lo, 0, w.Length - 1)] = 1; total = 1; }
            for (int k = 0; k < w.Length; k++) w[k] = (float)(w[k] / total);
            table[i] = (lo, w);
        }
        return table;
    }
}
