using System.Buffers.Binary;
using System.IO.Compression;
using System.Runtime.CompilerServices;
using Dsl.Runtime.Images;
using Xunit;

namespace Dsl.Runtime.Tests.Images;

/// <summary>Paths of the committed reference files, and checks that do not trust the code under test.</summary>
static class TestFiles
{
    /// <summary>The data folder beside this source file: the tests run where they were built.</summary>
    public static string Data(string name, [CallerFilePath] string here = "") => Path.Combine(Path.GetDirectoryName(here)!, "data", name);

    public static string TempDir() => Directory.CreateTempSubdirectory("dsl-images-").FullName;

    /// <summary>CRC-32 as zlib computes it, read back from a gzip trailer: an implementation independent of ours.</summary>
    public static uint ZlibCrc(ReadOnlySpan<byte> data)
    {
        using var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true)) gz.Write(data);
        return BinaryPrimitives.ReadUInt32LittleEndian(ms.GetBuffer().AsSpan((int)ms.Length - 8));
    }

    /// <summary>Walks a PNG's chunks by hand: the signature, every chunk's CRC, IHDR first and IEND last.
    /// Returns IHDR's width, height, bit depth and colour type.</summary>
    public static (int width, int height, int depth, int colourType) CheckPng(byte[] png)
    {
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 13, 10, 26, 10 }, png[..8]);
        var types = new List<string>();
        int pos = 8;
        while (pos < png.Length)
        {
            int length = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(pos));
            types.Add(System.Text.Encoding.ASCII.GetString(png, pos + 4, 4));
            Assert.Equal(ZlibCrc(png.AsSpan(pos + 4, length + 4)), BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(pos + 8 + length)));
            pos += 12 + length;
        }
        Assert.Equal(png.Length, pos);
        Assert.Equal("IHDR", types[0]);
        Assert.Equal("IEND", types[^1]);
        Assert.Contains("IDAT", types);
        return (BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)), BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20)), png[24], png[25]);
    }

    /// <summary>Any image as 8-bit RGBA, the form ImageMagick's reference pixels take.</summary>
    public static byte[] ToRgba(Image image)
    {
        var rgba = new byte[image.Width * image.Height * 4];
        for (int i = 0; i < image.Width * image.Height; i++)
        {
            var px = image.Pixels.AsSpan(i * image.Channels, image.Channels);
            bool colour = image.Channels >= 3;
            rgba[4 * i] = px[0];
            rgba[4 * i + 1] = colour ? px[1] : px[0];
            rgba[4 * i + 2] = colour ? px[2] : px[0];
            rgba[4 * i + 3] = image.Channels is 2 or 4 ? px[^1] : (byte)255;
        }
        return rgba;
    }

    public static Image Random(int width, int height, int channels, int seed)
    {
        var pixels = new byte[width * height * channels];
        new Random(seed).NextBytes(pixels);
        return new Image(width, height, channels, pixels);
    }
}
