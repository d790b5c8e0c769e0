using System.Runtime.InteropServices;

namespace Dsl.Runtime.Images;

/// <summary>JPEG decoding through the system's libturbojpeg, loaded on first use rather than linked, so that a
/// machine without it still runs everything else. A JPEG decoder of our own would be thousands of lines, slower
/// than libjpeg-turbo's SIMD code, and less proven on the odd files real folders hold.</summary>
public static unsafe class Jpeg
{
    /// <summary>What to do when the library is absent.</summary>
    public const string MissingLibrary = "JPEG images need libturbojpeg: sudo apt-get install libturbojpeg0";

    const int PixelFormatRgb = 0, PixelFormatGrey = 6, ColourSpaceGrey = 2, ErrorFatal = 1;

    public static bool IsJpeg(ReadOnlySpan<byte> data) => data.Length >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF;

    /// <summary>Whether libturbojpeg could be loaded.</summary>
    public static bool Available => Library.Value is not null;

    sealed class Api
    {
        public delegate* unmanaged<nint> Init;
        public delegate* unmanaged<nint, byte*, CULong, int*, int*, int*, int*, int> Header;
        public delegate* unmanaged<nint, byte*, CULong, byte*, int, int, int, int, int, int> Decompress;
        public delegate* unmanaged<nint, int> Destroy;
        /// <summary>Since libjpeg-turbo 2.0: the error of one handle, and whether it was only a warning.</summary>
        public delegate* unmanaged<nint, byte*> ErrorOf;
        public delegate* unmanaged<nint, int> ErrorCode;
        /// <summary>Before 2.0: the last error of any handle.</summary>
        public delegate* unmanaged<byte*> LastError;

        public string Error(nint handle) =>
            Marshal.PtrToStringUTF8((nint)(ErrorOf != null ? ErrorOf(handle) : LastError())) ?? "unknown error";
    }

    static readonly Lazy<Api?> Library = new(Open);

    static Api? Open()
    {
        foreach (var name in new[] { "libturbojpeg.so.0", "libturbojpeg.so", "libturbojpeg.0.dylib", "turbojpeg" })
        {
            if (!NativeLibrary.TryLoad(name, typeof(Jpeg).Assembly, null, out var lib)) continue;
            nint Export(string f) => NativeLibrary.TryGetExport(lib, f, out var p) ? p : 0;
            var api = new Api
            {
                Init = (delegate* unmanaged<nint>)Export("tjInitDecompress"),
                Header = (delegate* unmanaged<nint, byte*, CULong, int*, int*, int*, int*, int>)Export("tjDecompressHeader3"),
                Decompress = (delegate* unmanaged<nint, byte*, CULong, byte*, int, int, int, int, int, int>)Export("tjDecompress2"),
                Destroy = (delegate* unmanaged<nint, int>)Export("tjDestroy"),
                ErrorOf = (delegate* unmanaged<nint, byte*>)Export("tjGetErrorStr2"),
                ErrorCode = (delegate* unmanaged<nint, int>)Export("tjGetErrorCode"),
                LastError = (delegate* unmanaged<byte*>)Export("tjGetErrorStr"),
            };
            if (api.Init != null && api.Header != null && api.Decompress != null && api.Destroy != null && (api.ErrorOf != null || api.LastError != null))
                return api;
            NativeLibrary.Free(lib);
        }
        return null;
    }

    /// <summary>Decodes a JPEG to grey (for a greyscale JPEG) or RGB (for everything else); <paramref name="source"/>
    /// names it in messages. A <paramref name="minSide"/> lets the decoder shrink by 1/2, 1/4 or 1/8 inside its inverse
    /// DCT while the shorter side stays at least that: a 4000 x 3000 photo wanted at 227 decodes 64 times fewer pixels.</summary>
    public static Image Decode(ReadOnlySpan<byte> data, string source, int minSide = 0)
    {
        if (!IsJpeg(data)) throw new DataException($"{source}: not a JPEG file (bad signature)");
        var api = Library.Value ?? throw new DataException($"{source}: {MissingLibrary}");
        nint handle = api.Init();
        if (handle == 0) throw new DataException($"{source}: libturbojpeg could not start a decoder ({api.Error(0)})");
        try
        {
            fixed (byte* jpeg = data)
            {
                var size = new CULong((nuint)data.Length);
                int width, height, subsampling, colourSpace;
                if (api.Header(handle, jpeg, size, &width, &height, &subsampling, &colourSpace) != 0)
                    throw new DataException($"{source}: {api.Error(handle)}");
                if ((long)width * height > Image.MaxPixels)
                    throw new DataException($"{source}: an image of {width}x{height} pixels is larger than this reader takes ({Image.MaxPixels} pixels)");
                int channels = colourSpace == ColourSpaceGrey ? 1 : 3;
                int shrink = Shrink(width, height, minSide);
                (width, height) = (Scaled(width, shrink), Scaled(height, shrink));
                var pixels = new byte[(long)width * height * channels];
                fixed (byte* output = pixels)
                {
                    if (api.Decompress(handle, jpeg, size, output, width, width * channels, height,
                            channels == 1 ? PixelFormatGrey : PixelFormatRgb, 0) != 0 && Unusable(api, handle, out var message))
                        throw new DataException($"{source}: {message}");
                }
                return new Image(width, height, channels, pixels);
            }
        }
        finally
        {
            api.Destroy(handle);
        }
    }

    /// <summary>The largest of libjpeg's DCT reductions (8, 4, 2, or 1: none) that keeps the shorter side at least <paramref name="minSide"/>.</summary>
    static int Shrink(int width, int height, int minSide) =>
        minSide <= 0 ? 1 : new[] { 8, 4, 2 }.FirstOrDefault(d => Math.Min(Scaled(width, d), Scaled(height, d)) >= minSide, 1);

    /// <summary>A side after libjpeg's DCT scaling by 1/<paramref name="d"/>, rounded up as libjpeg rounds it.</summary>
    static int Scaled(int side, int d) => (side + d - 1) / d;

    /// <summary>A warning still leaves a whole picture (stray bytes between markers are common in the wild); an error,
    /// or data that ended early (a truncated file, its remainder painted grey), does not.</summary>
    static bool Unusable(Api api, nint handle, out string message)
    {
        message = api.Error(handle);
        bool fatal = api.ErrorCode == null || api.ErrorCode(handle) == ErrorFatal;
        return fatal || message.Contains("premature end", StringComparison.OrdinalIgnoreCase);
    }
}
