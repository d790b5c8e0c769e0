using System.Buffers.Binary;
using Dsl.Runtime.Images;
using Xunit;

namespace Dsl.Runtime.Tests.Images;

public class PngTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void EncodeThenDecodeGivesTheSamePixels(int channels)
    {
        foreach (var (w, h) in new[] { (1, 1), (17, 5), (64, 48) })
        {
            var noise = TestFiles.Random(w, h, channels, seed: w * 10 + channels);
            var png = Png.Encode(noise);
            Assert.Equal((w, h, 8, channels switch { 1 => 0, 2 => 4, 3 => 2, _ => 6 }), TestFiles.CheckPng(png));
            var back = Png.Decode(png, "noise");
            Assert.Equal((w, h, channels), (back.Width, back.Height, back.Channels));
            Assert.Equal(noise.Pixels, back.Pixels);
        }
    }

    [Fact]
    public void SmoothImagesUseFiltersAndCompressWell()
    {
        // A gradient is what Sub, Up, Average and Paeth exist for: the file is far smaller than the raw pixels.
        var pixels = new byte[96 * 64 * 3];
        for (int y = 0; y < 64; y++)
            for (int x = 0; x < 96; x++)
                for (int c = 0; c < 3; c++) pixels[(y * 96 + x) * 3 + c] = (byte)(x * 2 + y * (c + 1));
        var image = new Image(96, 64, 3, pixels);
        var png = Png.Encode(image);
        Assert.True(png.Length < pixels.Length / 20, $"{png.Length} bytes for {pixels.Length} of pixels");
        Assert.Equal(pixels, Png.Decode(png, "gradient").Pixels);
    }

    [Theory]
    [InlineData("rgb8-filter0", 2, 8)]
    [InlineData("rgb8-filter1", 2, 8)]
    [InlineData("rgb8-filter2", 2, 8)]
    [InlineData("rgb8-filter3", 2, 8)]
    [InlineData("rgb8-filter4", 2, 8)]
    [InlineData("rgb8", 2, 8)]
    [InlineData("rgb16", 2, 16)]
    [InlineData("grey1", 0, 1)]
    [InlineData("grey2", 0, 2)]
    [InlineData("grey4", 0, 4)]
    [InlineData("grey4-paeth", 0, 4)]
    [InlineData("grey8", 0, 8)]
    [InlineData("grey16", 0, 16)]
    [InlineData("greyalpha8", 4, 8)]
    [InlineData("greyalpha16", 4, 16)]
    [InlineData("rgba8", 6, 8)]
    [InlineData("rgba16", 6, 16)]
    [InlineData("palette8", 3, 8)]
    [InlineData("palette8-average", 3, 8)]
    [InlineData("palette2", 3, 2)]
    [InlineData("palette-alpha", 3, 8)]
    public void ReadsWhatImageMagickWroteAsImageMagickReadsIt(string name, int colourType, int depth)
    {
        var file = File.ReadAllBytes(TestFiles.Data(name + ".png"));
        var (w, h, d, ct) = TestFiles.CheckPng(file);
        Assert.Equal((colourType, depth), (ct, d));
        var image = Png.Decode(file, name);
        Assert.Equal((w, h), (image.Width, image.Height));
        var expected = File.ReadAllBytes(TestFiles.Data(name + ".rgba"));
        var actual = TestFiles.ToRgba(image);
        if (depth < 16) Assert.Equal(expected, actual);
        // 16 to 8 bits has more than one convention (rounding v / 257, or the high byte): ours rounds, ImageMagick may differ by one.
        else Assert.All(expected.Zip(actual), p => Assert.InRange(p.First - p.Second, -1, 1));
    }

    [Fact]
    public void InterlacedFilesAreRefusedByName()
    {
        var path = TestFiles.Data("interlaced.png");
        var e = Assert.Throws<DataException>(() => Image.Load(path));
        Assert.Contains("interlaced PNG is not supported", e.Message);
        Assert.Contains(path, e.Message);
    }

    static byte[] Sample() => Png.Encode(TestFiles.Random(9, 7, 3, seed: 5));

    [Fact]
    public void AWrongSignatureSaysSo()
    {
        var png = Sample();
        png[1] = (byte)'X';
        Assert.Contains("bad signature", Assert.Throws<DataException>(() => Png.Decode(png, "x.png")).Message);
    }

    [Fact]
    public void ADamagedChunkFailsItsCrc()
    {
        var png = Sample();
        png[^20] ^= 0x40; // inside IDAT
        var e = Assert.Throws<DataException>(() => Png.Decode(png, "damaged.png"));
        Assert.Equal("damaged.png: bad CRC in the IDAT chunk: the file is corrupt", e.Message);
    }

    [Fact]
    public void EveryTruncationIsADataExceptionNamingTheFile()
    {
        var png = File.ReadAllBytes(TestFiles.Data("palette8.png"));
        for (int n = 0; n < png.Length; n++)
        {
            var e = Assert.Throws<DataException>(() => Png.Decode(png.AsSpan(0, n), "cut.png"));
            Assert.StartsWith("cut.png: ", e.Message);
        }
    }

    [Fact]
    public void ATruncatedImageDataStreamIsReportedAsSuch()
    {
        // A valid file whose IDAT holds half the compressed stream: every CRC is right, the data runs out.
        var png = Sample();
        int idat = 8 + 25, length = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(idat));
        var body = png.AsSpan(idat + 8, length / 2).ToArray();
        var cut = Rebuild(png[..idat], "IDAT", body, png[(idat + 12 + length)..]);
        var e = Assert.Throws<DataException>(() => Png.Decode(cut, "half.png"));
        Assert.Contains("IDAT", e.Message);
    }

    [Fact]
    public void MutatedFilesWithValidCrcsDecodeOrThrowDataExceptionOnly()
    {
        // Flipped bytes with the CRC fixed reach the header checks, zlib, the filters and the palette lookup.
        var originals = new[] { Sample(), File.ReadAllBytes(TestFiles.Data("palette2.png")), File.ReadAllBytes(TestFiles.Data("greyalpha16.png")) };
        var rng = new Random(42);
        for (int trial = 0; trial < 600; trial++)
        {
            var png = (byte[])originals[trial % originals.Length].Clone();
            int pos = 8, target = rng.Next(8, png.Length - 12);
            while (true)
            {
                int length = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(pos));
                if (target < pos + 12 + length || pos + 12 + length >= png.Length)
                {
                    if (length > 0) png[pos + 8 + rng.Next(length)] ^= (byte)(1 << rng.Next(8));
                    BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(pos + 8 + length), TestFiles.ZlibCrc(png.AsSpan(pos + 4, length + 4)));
                    break;
                }
                pos += 12 + length;
            }
            try { Png.Decode(png, "mutant.png"); }
            catch (DataException) { }
        }
    }

    static byte[] Rebuild(byte[] before, string type, byte[] body, byte[] after)
    {
        var chunk = new byte[12 + body.Length];
        BinaryPrimitives.WriteInt32BigEndian(chunk, body.Length);
        System.Text.Encoding.ASCII.GetBytes(type).CopyTo(chunk, 4);
        body.CopyTo(chunk, 8);
        BinaryPrimitives.WriteUInt32BigEndian(chunk.AsSpan(8 + body.Length), TestFiles.ZlibCrc(chunk.AsSpan(4, 4 + body.Length)));
        return [.. before, .. chunk, .. after];
    }
}
