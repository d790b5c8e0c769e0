using SkiaSharp;

namespace Dsl.Runtime.Images;

/// <summary>Image files to pixels through Skia's codecs (PNG, JPEG, WebP, GIF, BMP, ICO), which Google fuzzes
/// continuously. What comes out is upright (the EXIF orientation applied) and unconverted: no colour management, as
/// PIL and Keras load images, so a data set's statistics do not depend on the profiles its files embed.</summary>
static class Decoder
{
    const long PlausibleArea = 1 << 22, PixelsPerByte = 4096;

    /// <summary>Grey files stay grey (1 channel), opaque ones RGB (3), the rest RGBA (4), alpha not premultiplied.
    /// A <paramref name="minSide"/> lets a JPEG shrink by 1/2, 1/4 or 1/8 inside its inverse DCT while the shorter
    /// side stays at least that: a 4000 x 3000 photo wanted at 227 decodes 64 times fewer pixels.</summary>
    public static unsafe Image Decode(ReadOnlySpan<byte> data, string source, int minSide)
    {
        using var bytes = SKData.CreateCopy(data);
        // The codec owns the stream it reads and disposes of it with itself.
        using var codec = SKCodec.Create(new SKMemoryStream(bytes), out var opened);
        if (codec is null)
            throw new DataException(PngProblem(data) is string png ? $"{source}: {png}"
                : opened == SKCodecResult.IncompleteInput ? $"{source}: the file ends before its header does"
                : $"{source}: not a PNG, JPEG, WebP, GIF or BMP image");
        var declared = codec.Info;
        // Checked before anything the size of the image is allocated: a lying header costs nothing.
        long area = (long)declared.Width * declared.Height;
        if (area > Image.MaxPixels)
            throw new DataException($"{source}: an image of {declared.Width}x{declared.Height} pixels is larger than this reader takes ({Image.MaxPixels} pixels)");
        // A damaged header can promise a large picture in a small file; real photos and scans hold far fewer pixels
        // a byte than this, so above 4 megapixels such a file is refused before 16 MiB or more is set aside for it.
        if (area > PlausibleArea && area > (long)data.Length * PixelsPerByte)
            throw new DataException($"{source}: the header declares {declared.Width}x{declared.Height} pixels, more than {data.Length} bytes can plausibly hold; the file is probably damaged");
        var (width, height) = Scaled(codec, minSide);
        bool grey = declared.ColorType == SKColorType.Gray8;
        bool opaque = declared.AlphaType == SKAlphaType.Opaque;
        var info = new SKImageInfo(width, height, grey ? SKColorType.Gray8 : SKColorType.Rgba8888, grey ? SKAlphaType.Opaque : SKAlphaType.Unpremul);
        var pixels = new byte[info.BytesSize64];
        SKCodecResult result;
        fixed (byte* p = pixels) result = codec.GetPixels(info, (nint)p);
        if (result != SKCodecResult.Success) throw new DataException($"{source}: {PngProblem(data) ?? Reason(result, codec.EncodedFormat)}");
        int channels = grey ? 1 : opaque ? 3 : 4;
        if (channels == 3) pixels = DropAlpha(pixels);
        return Orientation.Upright(new Image(width, height, channels, pixels), codec.EncodedOrigin);
    }

    /// <summary>The smallest size the codec decodes to directly whose shorter side is still <paramref name="minSide"/>
    /// or more; the full size for formats that cannot shrink while decoding.</summary>
    static (int width, int height) Scaled(SKCodec codec, int minSide)
    {
        var (w, h) = (codec.Info.Width, codec.Info.Height);
        if (minSide <= 0 || codec.EncodedFormat != SKEncodedImageFormat.Jpeg) return (w, h);
        foreach (var d in new[] { 8, 4, 2 })
        {
            var size = codec.GetScaledDimensions(1f / d);
            if (Math.Min(size.Width, size.Height) >= minSide) return (size.Width, size.Height);
        }
        return (w, h);
    }

    /// <summary>A PNG's own account of why it failed (a bad CRC, no pixels), more exact than the codec's; null for
    /// other formats.</summary>
    static string? PngProblem(ReadOnlySpan<byte> data) => PngChunks.IsPng(data) ? PngChunks.Problem(data) : null;

    static byte[] DropAlpha(byte[] rgba)
    {
        var rgb = new byte[rgba.Length / 4 * 3];
        for (int i = 0, j = 0; i < rgba.Length; i += 4, j += 3)
        {
            rgb[j] = rgba[i];
            rgb[j + 1] = rgba[i + 1];
            rgb[j + 2] = rgba[i + 2];
        }
        return rgb;
    }

    static string Reason(SKCodecResult result, SKEncodedImageFormat format) => result switch
    {
        // Skia fills what is missing and says so; a picture with its lower part painted over is not a sample.
        SKCodecResult.IncompleteInput => $"the {format} data ends early (the file is truncated)",
        SKCodecResult.ErrorInInput => $"the {format} data is corrupt",
        SKCodecResult.InvalidInput => $"the {format} file is invalid",
        _ => $"the {format} decoder refused it ({result})",
    };
}
