using SkiaSharp;

namespace Dsl.Runtime.Images;

/// <summary>EXIF orientation: cameras store the sensor's rows and note how to turn them. A phone photo taken upright
/// is often stored on its side with orientation 6; applied here, every image enters a network the way a person sees it.</summary>
static class Orientation
{
    /// <summary>The image as it is displayed: <paramref name="origin"/> names where the stored first row and column belong.</summary>
    public static Image Upright(Image stored, SKEncodedOrigin origin)
    {
        if (origin == SKEncodedOrigin.TopLeft) return stored;
        int w = stored.Width, h = stored.Height, c = stored.Channels;
        bool swap = origin >= SKEncodedOrigin.LeftTop;
        int outW = swap ? h : w;
        var output = new byte[stored.Pixels.Length];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                var (dx, dy) = origin switch
                {
                    SKEncodedOrigin.TopRight => (w - 1 - x, y),           // mirrored left to right
                    SKEncodedOrigin.BottomRight => (w - 1 - x, h - 1 - y), // turned 180 degrees
                    SKEncodedOrigin.BottomLeft => (x, h - 1 - y),          // mirrored top to bottom
                    SKEncodedOrigin.LeftTop => (y, x),                     // transposed
                    SKEncodedOrigin.RightTop => (h - 1 - y, x),            // needs 90 degrees clockwise
                    SKEncodedOrigin.RightBottom => (h - 1 - y, w - 1 - x), // transversed
                    _ => (y, w - 1 - x),                                   // LeftBottom: 90 degrees anticlockwise
                };
                stored.Pixels.AsSpan((y * w + x) * c, c).CopyTo(output.AsSpan((dy * outW + dx) * c, c));
            }
        return new Image(outW, swap ? w : h, c, output);
    }
}
