using SkiaSharp;

namespace Dsl.Runtime.Images;

/// <summary>A decoded image: 8-bit samples, rows top to bottom, a pixel's channels side by side
/// (1 grey, 2 grey and alpha, 3 RGB, 4 RGBA), the layout image files use.</summary>
public sealed class Image
{
    /// <summary>The most pixels a decoder accepts: a guard against headers that promise terabytes.</summary>
    public const long MaxPixels = 1L << 28;

    public Image(int width, int height, int channels, byte[] pixels)
    {
        if (width <= 0 || height <= 0 || channels is < 1 or > 4)
            throw new ArgumentException($"an image is at least 1x1 with 1 to 4 channels, not {width}x{height}x{channels}");
        if (pixels.Length != (long)width * height * channels)
            throw new ArgumentException($"{pixels.Length} bytes do not make a {width}x{height} image of {channels} channels");
        (Width, Height, Channels, Pixels) = (width, height, channels, pixels);
    }

    public int Width { get; }
    public int Height { get; }
    public int Channels { get; }
    public byte[] Pixels { get; }

    /// <summary>Reads and decodes an image file (PNG, JPEG, WebP, GIF, BMP). Any failure, from a missing file to a
    /// corrupt one, is a <see cref="DataException"/> that names the file. <paramref name="minSide"/>: see <see cref="Decode"/>.</summary>
    public static Image Load(string path, int minSide = 0)
    {
        byte[] data;
        try { data = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DataException($"{path}: cannot be read ({e.Message})", e);
        }
        return Decode(data, path, minSide);
    }

    /// <summary>Decodes image data, its format told by its first bytes (a name's extension is often wrong), upright
    /// (EXIF orientation applied); a GIF gives its first frame. <paramref name="source"/> names the data in messages.
    /// A JPEG may come out smaller, its shorter side no less than <paramref name="minSide"/>, when the caller is going
    /// to shrink it anyway.</summary>
    public static Image Decode(ReadOnlySpan<byte> data, string source, int minSide = 0)
    {
        if (data.IsEmpty) throw new DataException($"{source}: the file is empty");
        return Decoder.Decode(data, source, minSide);
    }

    /// <summary>This image with 1 (grey) or 3 (RGB) channels. Alpha is dropped, as Keras' loader does; colour becomes
    /// grey by ITU-R BT.601 luma, as PIL's convert("L"); grey is copied to all three colours.</summary>
    public Image WithChannels(int channels)
    {
        if (channels is not (1 or 3)) throw new ArgumentException($"images convert to 1 or 3 channels, not {channels}");
        if (channels == Channels) return this;
        long n = (long)Width * Height;
        var output = new byte[n * channels];
        bool colour = Channels >= 3;
        for (long i = 0; i < n; i++)
        {
            var px = Pixels.AsSpan((int)(i * Channels), Channels);
            if (channels == 1)
                output[i] = colour ? (byte)((px[0] * 299 + px[1] * 587 + px[2] * 114 + 500) / 1000) : px[0];
            else if (colour)
                px[..3].CopyTo(output.AsSpan((int)(i * 3), 3));
            else
                output.AsSpan((int)(i * 3), 3).Fill(px[0]);
        }
        return new Image(Width, Height, channels, output);
    }

    /// <summary>This image as a PNG file, encoded by Skia (grey stays grey; alpha is kept, unpremultiplied).</summary>
    public byte[] ToPng()
    {
        // Skia encodes grey from Gray8 and colour from RGBA; grey-and-alpha and RGB widen to RGBA.
        bool grey = Channels == 1;
        var pixels = grey ? Pixels : WithAlpha();
        var info = new SKImageInfo(Width, Height, grey ? SKColorType.Gray8 : SKColorType.Rgba8888, grey ? SKAlphaType.Opaque : SKAlphaType.Unpremul);
        using var image = SKImage.FromPixelCopy(info, pixels);
        using var png = image.Encode(SKEncodedImageFormat.Png, 100);
        return png.ToArray();
    }

    byte[] WithAlpha()
    {
        if (Channels == 4) return Pixels;
        var rgba = new byte[Width * Height * 4];
        for (int i = 0; i < Width * Height; i++)
        {
            var px = Pixels.AsSpan(i * Channels, Channels);
            bool colour = Channels >= 3;
            rgba[4 * i] = px[0];
            rgba[4 * i + 1] = colour ? px[1] : px[0];
            rgba[4 * i + 2] = colour ? px[2] : px[0];
            rgba[4 * i + 3] = Channels == 2 ? px[1] : (byte)255;
        }
        return rgba;
    }
}
