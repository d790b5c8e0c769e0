using Dsl.Core;

namespace Dsl.Runtime.Data;

/// <summary>Turns a stored image into the network's input: bilinear resize, grey-to-colour replication,
/// crop (random when training, centred otherwise), flips, brightness and contrast, and normalisation, in one pass.</summary>
public sealed class Transform
{
    readonly int srcC, srcH, srcW, outC, outH, outW, resizedH, resizedW;
    readonly float[] scale, shift;
    readonly (int i0, int i1, float f)[] rows, cols;
    readonly bool flipH, flipV;
    readonly double brightness, contrast, rotate;
    readonly int translate;

    public Transform(ImageSet source, int channels, int height, int width, TrainConfig config, (float[] mean, float[] std) stats)
    {
        (srcC, srcH, srcW, outC, outH, outW) = (source.Channels, source.Height, source.Width, channels, height, width);
        if (srcC != outC && srcC != 1)
            throw new DataException($"the images have {srcC} channels and the network takes {outC}; only grey images are replicated to colour");
        var crop = config.Augment.OfType<Augmentation.Crop>().FirstOrDefault();
        int resize = config.Data?.Value.Resize?.Value ?? crop?.from ?? 0;
        (resizedH, resizedW) = resize > 0 ? (resize, resize) : crop is not null ? (crop.from, crop.from) : (outH, outW);
        if (resizedH < outH || resizedW < outW)
            throw new DataException($"images resized to {resizedH}x{resizedW} are smaller than the network's input {outH}x{outW}; resize to at least {outH}");
        rows = Table(srcH, resizedH);
        cols = Table(srcW, resizedW);
        flipH = config.Augment.Any(a => a.IsFlipHorizontal);
        flipV = config.Augment.Any(a => a.IsFlipVertical);
        brightness = config.Augment.OfType<Augmentation.Brightness>().Select(b => b.Item).FirstOrDefault();
        contrast = config.Augment.OfType<Augmentation.Contrast>().Select(b => b.Item).FirstOrDefault();
        rotate = config.Augment.OfType<Augmentation.Rotate>().Select(b => b.degrees).FirstOrDefault();
        translate = config.Augment.OfType<Augmentation.Translate>().Select(b => b.pixels).FirstOrDefault();
        // Normalise (x/255 - mean) / std as one multiply-add per pixel.
        scale = new float[outC];
        shift = new float[outC];
        for (int c = 0; c < outC; c++)
        {
            float m = stats.mean[Math.Min(c, stats.mean.Length - 1)], s = stats.std[Math.Min(c, stats.std.Length - 1)];
            scale[c] = 1f / (255f * s);
            shift[c] = -m / s;
        }
    }

    /// <summary>Per-channel mean and standard deviation of the stored pixels in 0..1, as the train block's `normalize` asks.</summary>
    public static (float[] mean, float[] std) Statistics(ImageSet set, Normalization n)
    {
        var mean = new float[set.Channels];
        var std = Enumerable.Repeat(1f, set.Channels).ToArray();
        if (n.IsNoNormalization) return (mean, std);
        int plane = set.Height * set.Width;
        for (int c = 0; c < set.Channels; c++)
        {
            double sum = 0, sq = 0;
            long count = 0;
            for (int i = 0; i < set.Count; i++)
            {
                var img = set.Image(i).Slice(c * plane, plane);
                foreach (var b in img) { sum += b; sq += b * (double)b; }
                count += plane;
            }
            double m = sum / count / 255, v = sq / count / (255.0 * 255) - m * m;
            mean[c] = (float)m;
            if (n.IsMeanStd) std[c] = (float)Math.Sqrt(Math.Max(v, 1e-12));
        }
        return (mean, std);
    }

    static (int, int, float)[] Table(int src, int dst) =>
        Enumerable.Range(0, dst).Select(o =>
        {
            // Pixel centres aligned, as OpenCV and PIL resize.
            double s = Math.Clamp((o + 0.5) * src / dst - 0.5, 0, src - 1);
            int i0 = (int)s;
            return (i0, Math.Min(i0 + 1, src - 1), (float)(s - i0));
        }).ToArray();

    /// <summary>Writes image <paramref name="pixels"/> into <paramref name="output"/> (C x H x W floats).
    /// <paramref name="random"/> is a hash that decides crop, flips and jitter; null means evaluation (centre, no jitter).</summary>
    public void Apply(ReadOnlySpan<byte> pixels, Span<float> output, ulong? random)
    {
        int oy = (resizedH - outH) / 2, ox = (resizedW - outW) / 2;
        bool fh = false, fv = false;
        float gain = 1, bias = 0;
        if (random is ulong r)
        {
            oy = (int)(r % (ulong)(resizedH - outH + 1));
            ox = (int)((r >> 16) % (ulong)(resizedW - outW + 1));
            fh = flipH && ((r >> 32) & 1) == 1;
            fv = flipV && ((r >> 33) & 1) == 1;
            if (contrast > 0) gain = (float)(1 + contrast * (((r >> 34) & 0xFFFF) / 32767.5 - 1));
            if (brightness > 0) bias = (float)(255 * brightness * (((r >> 50) & 0x3FFF) / 8191.5 - 1));
        }
        int plane = srcH * srcW;
        if (random is ulong geometric && (rotate > 0 || translate > 0))
        {
            ulong g = Seeds.Mix((long)geometric, 0xAFF);
            double angle = rotate * ((g & 0xFFFF) / 32767.5 - 1);
            int ty = translate == 0 ? 0 : (int)((g >> 16) % (ulong)(2 * translate + 1)) - translate;
            int tx = translate == 0 ? 0 : (int)((g >> 32) % (ulong)(2 * translate + 1)) - translate;
            Affine(pixels, output, angle, ty, tx, oy, ox, fh, fv, gain, bias);
            return;
        }
        for (int c = 0; c < outC; c++)
        {
            var src = pixels.Slice((srcC == 1 ? 0 : c) * plane, plane);
            float sc = scale[c] * gain, sh = shift[c] + scale[c] * bias;
            for (int y = 0; y < outH; y++)
            {
                var (r0, r1, fy) = rows[fv ? resizedH - 1 - (y + oy) : y + oy];
                var dst = output.Slice((c * outH + y) * outW, outW);
                for (int x = 0; x < outW; x++)
                {
                    var (c0, c1, fx) = cols[fh ? resizedW - 1 - (x + ox) : x + ox];
                    float top = src[r0 * srcW + c0] + fx * (src[r0 * srcW + c1] - src[r0 * srcW + c0]);
                    float bottom = src[r1 * srcW + c0] + fx * (src[r1 * srcW + c1] - src[r1 * srcW + c0]);
                    dst[x] = (top + fy * (bottom - top)) * sc + sh;
                }
            }
        }
    }

    /// <summary>Crop, flips, a random rotation about the crop's centre and a random shift, as one inverse mapping of each
    /// output pixel into the stored image; what falls outside it is black (Keras' constant fill).</summary>
    internal void Affine(ReadOnlySpan<byte> pixels, Span<float> output, double degrees, int ty, int tx, int oy, int ox, bool fh, bool fv, float gain, float bias)
    {
        double angle = degrees * Math.PI / 180;
        float cos = (float)Math.Cos(angle), sin = (float)Math.Sin(angle);
        float cy = oy + outH / 2f, cx = ox + outW / 2f;
        float scaleY = (float)srcH / resizedH, scaleX = (float)srcW / resizedW;
        int plane = srcH * srcW;
        for (int c = 0; c < outC; c++)
        {
            var src = pixels.Slice((srcC == 1 ? 0 : c) * plane, plane);
            float sc = scale[c] * gain, sh = shift[c] + scale[c] * bias;
            for (int y = 0; y < outH; y++)
                for (int x = 0; x < outW; x++)
                {
                    // Output pixel centre, relative to the crop centre, moved back by the shift and rotated back.
                    float dy = oy + y + 0.5f - cy - ty, dx = ox + x + 0.5f - cx - tx;
                    float ry = -sin * dx + cos * dy + cy, rx = cos * dx + sin * dy + cx;
                    if (fv) ry = resizedH - ry;
                    if (fh) rx = resizedW - rx;
                    // Resized-image coordinates to stored-image coordinates, pixel centres aligned.
                    float sy = ry * scaleY - 0.5f, sx = rx * scaleX - 0.5f;
                    int y0 = (int)MathF.Floor(sy), x0 = (int)MathF.Floor(sx);
                    float fy = sy - y0, fx = sx - x0;
                    float a = At(src, srcH, srcW, y0, x0), b = At(src, srcH, srcW, y0, x0 + 1);
                    float d = At(src, srcH, srcW, y0 + 1, x0), e = At(src, srcH, srcW, y0 + 1, x0 + 1);
                    float top = a + fx * (b - a), bottom = d + fx * (e - d);
                    output[(c * outH + y) * outW + x] = (top + fy * (bottom - top)) * sc + sh;
                }
        }
    }

    static float At(ReadOnlySpan<byte> image, int height, int width, int y, int x) =>
        y < 0 || y >= height || x < 0 || x >= width ? 0f : image[y * width + x];
}
