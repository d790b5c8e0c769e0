using Dsl.Runtime.Images;

namespace Dsl.Runtime.Output;

/// <summary>The first convolution's filters as a grid of tiles, as figure 3 of the AlexNet paper shows them: each filter
/// stretched over its own minimum..maximum to 0..255, enlarged without smoothing so a tile is at least 32 pixels, in
/// colour when it reads three channels and grey otherwise (averaged over its channels when it reads neither 1 nor 3).</summary>
public static class Filters
{
    const int Gap = 2, MinTile = 32;

    /// <summary>The grid for <paramref name="weights"/> of shape [filters, channels, height, width], flattened, as an
    /// RGB image on white.</summary>
    public static Image Draw(float[] weights, IReadOnlyList<int> shape)
    {
        if (shape.Count != 4 || shape.Any(s => s <= 0) || (long)shape[0] * shape[1] * shape[2] * shape[3] != weights.Length)
            throw new ArgumentException($"filters need a [filters, channels, height, width] shape matching {weights.Length} weights, not [{string.Join(", ", shape)}]");
        int k = shape[0], c = shape[1], r = shape[2], s = shape[3];
        int zoom = (MinTile + Math.Max(r, s) - 1) / Math.Max(r, s);
        int columns = Columns(k), rows = (k + columns - 1) / columns;
        int tileW = s * zoom, tileH = r * zoom;
        int width = Gap + columns * (tileW + Gap), height = Gap + rows * (tileH + Gap);
        var pixels = new byte[width * height * 3];
        Array.Fill(pixels, (byte)255);
        int size = c * r * s, plane = r * s;
        for (int f = 0; f < k; f++)
        {
            var shown = Shown(weights.AsSpan(f * size, size), c, plane);
            float min = float.PositiveInfinity, max = float.NegativeInfinity;
            foreach (var v in shown) if (float.IsFinite(v)) { min = Math.Min(min, v); max = Math.Max(max, v); }
            // A constant (or entirely non-finite) filter shows as mid grey rather than dividing by zero.
            double scale = max > min ? 255.0 / (max - min) : 0;
            byte Level(float v) => scale == 0 || !float.IsFinite(v) ? (byte)128 : (byte)Math.Round((v - min) * scale);
            int x0 = Gap + f % columns * (tileW + Gap), y0 = Gap + f / columns * (tileH + Gap);
            for (int i = 0; i < r; i++)
                for (int j = 0; j < s; j++)
                {
                    int p = i * s + j;
                    bool colour = shown.Length == 3 * plane;
                    // Enlarged by repetition, not smoothing: each weight stays a sharp square.
                    for (int dy = 0; dy < zoom; dy++)
                        for (int dx = 0; dx < zoom; dx++)
                        {
                            int at = ((y0 + i * zoom + dy) * width + x0 + j * zoom + dx) * 3;
                            for (int ch = 0; ch < 3; ch++) pixels[at + ch] = Level(shown[(colour ? ch * plane : 0) + p]);
                        }
                }
        }
        return new Image(width, height, 3, pixels);
    }

    /// <summary>What a tile shows of one filter: its three colour planes, its one grey plane, or its channels' mean.</summary>
    static float[] Shown(ReadOnlySpan<float> filter, int channels, int plane)
    {
        if (channels is 1 or 3) return filter.ToArray();
        var mean = new float[plane];
        for (int ch = 0; ch < channels; ch++)
            for (int p = 0; p < plane; p++) mean[p] += filter[ch * plane + p] / channels;
        return mean;
    }

    /// <summary>A divisor of <paramref name="k"/> between its square root and twice that, for a full rectangle
    /// (96 filters: 12 x 8); failing one, a near-square grid.</summary>
    static int Columns(int k)
    {
        int root = (int)Math.Ceiling(Math.Sqrt(k));
        for (int c = root; c <= 2 * root; c++) if (k % c == 0) return c;
        return root;
    }
}
