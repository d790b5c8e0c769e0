using System.Buffers.Binary;
using Dsl.Runtime.Images;
using Xunit;

namespace Dsl.Runtime.Tests.Images;

/// <summary>Skia's decoding of every format the loader takes, against the pixels ImageMagick (make.sh) or Pillow
/// (make-formats.py) decoded from the same files.</summary>
public class DecoderTests
{
    static byte[] Reference(string name) => File.ReadAllBytes(TestFiles.Data(name + ".rgba"));

    /// <summary>Lossless files must come out exact; lossy ones as another decoder reads them, within what IDCT and
    /// upsampling choices change.</summary>
    static void Matches(byte[] expected, Image image, int maxError = 0, double meanError = 0)
    {
        var actual = TestFiles.ToRgba(image);
        Assert.Equal(expected.Length, actual.Length);
        var errors = expected.Zip(actual, (a, b) => Math.Abs(a - b)).ToArray();
        Assert.True(errors.Max() <= maxError && errors.Average() <= meanError, $"mean error {errors.Average():F2}, max {errors.Max()}");
    }

    [Theory]
    [InlineData("rgb8-filter0", 3)]
    [InlineData("rgb8-filter1", 3)]
    [InlineData("rgb8-filter2", 3)]
    [InlineData("rgb8-filter3", 3)]
    [InlineData("rgb8-filter4", 3)]
    [InlineData("rgb8", 3)]
    [InlineData("grey1", 1)]
    [InlineData("grey2", 1)]
    [InlineData("grey4", 1)]
    [InlineData("grey4-paeth", 1)]
    [InlineData("grey8", 1)]
    [InlineData("greyalpha8", 4)]
    [InlineData("rgba8", 4)]
    [InlineData("palette8", 3)]
    [InlineData("palette8-average", 3)]
    [InlineData("palette2", 3)]
    [InlineData("palette-alpha", 4)]
    [InlineData("interlaced", 3)]
    public void PngsOfEveryKindAsImageMagickOrPillowReadsThem(string name, int channels)
    {
        var image = Image.Load(TestFiles.Data(name + ".png"));
        Assert.Equal(channels, image.Channels);
        Matches(Reference(name), image);
    }

    [Theory]
    [InlineData("rgb16")]
    [InlineData("grey16")]
    [InlineData("greyalpha16")]
    [InlineData("rgba16")]
    public void SixteenBitPngsRoundToEightBits(string name) =>
        // 16 to 8 bits has more than one convention (rounding v / 257, or the high byte): one level apart at most.
        Matches(Reference(name), Image.Load(TestFiles.Data(name + ".png")), maxError: 1, meanError: 1);

    [Theory]
    [InlineData("colour.jpg", "colour", 3)]
    [InlineData("grey.jpg", "grey", 1)]
    [InlineData("progressive.jpg", "progressive", 3)]
    [InlineData("cmyk.jpg", "cmyk", 3)]
    public void JpegsBaselineProgressiveGreyAndCmyk(string file, string reference, int channels)
    {
        var image = Image.Load(TestFiles.Data(file));
        Assert.Equal(channels, image.Channels);
        Matches(Reference(reference), image, maxError: 16, meanError: 1.5);
    }

    [Fact]
    public void ACmykJpegIsNotReadAsInvertedInk()
    {
        // Adobe stores CMYK inverted; a decoder that forgot would give the complement of the upright picture.
        var image = Image.Load(TestFiles.Data("cmyk.jpg"));
        Matches(Reference("upright"), image, maxError: 16, meanError: 3);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(8)]
    public void EveryExifOrientationComesOutUpright(int orientation)
    {
        // Each file stores the same 24x16 picture turned or mirrored as a camera would, with the tag that undoes it.
        var image = Image.Load(TestFiles.Data($"orientation{orientation}.jpg"));
        Assert.Equal((24, 16), (image.Width, image.Height));
        Matches(Reference("upright"), image, maxError: 12, meanError: 2);
    }

    [Theory]
    [InlineData("lossless.webp", "lossless", 3, 0, 0)]
    [InlineData("alpha.webp", "alpha", 4, 0, 0)]
    [InlineData("lossy.webp", "lossy", 3, 12, 1.5)]
    [InlineData("frames.gif", "frames", 3, 0, 0)]
    [InlineData("rgb24.bmp", "rgb24", 3, 0, 0)]
    [InlineData("palette8.bmp", "palette8-bmp", 3, 0, 0)]
    public void WebPGifAndBmp(string file, string reference, int channels, int maxError, double meanError)
    {
        var image = Image.Load(TestFiles.Data(file));
        Assert.Equal(channels, image.Channels);
        Matches(Reference(reference), image, maxError, meanError);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void WhatToPngWritesReadsBackExactly(int channels)
    {
        foreach (var (w, h) in new[] { (1, 1), (17, 5), (64, 48) })
        {
            var noise = TestFiles.Random(w, h, channels, seed: w * 10 + channels);
            // Grey and alpha is kept as RGBA; opaque channels come back as they went in.
            if (channels is 2 or 4) for (int i = channels - 1; i < noise.Pixels.Length; i += channels) noise.Pixels[i] = 255;
            var png = noise.ToPng();
            TestFiles.CheckPng(png);
            var back = Image.Decode(png, "noise");
            Assert.Equal((w, h), (back.Width, back.Height));
            Assert.Equal(TestFiles.ToRgba(noise), TestFiles.ToRgba(back));
        }
    }

    [Fact]
    public void AJpegShrinksInsideTheDecoderWhileTheShorterSideStaysLargeEnough()
    {
        var path = TestFiles.Data("colour.jpg");
        var half = Image.Load(path, minSide: 12);
        Assert.Equal((20, 12), (half.Width, half.Height));
        Assert.Equal((40, 24), (Image.Load(path, minSide: 13).Width, Image.Load(path, minSide: 13).Height));
    }

    [Fact]
    public void EveryTruncationIsRefusedByNameUnlessNoPixelIsLost()
    {
        foreach (var name in new[] { "palette8.png", "grey.jpg", "lossless.webp" })
        {
            var file = File.ReadAllBytes(TestFiles.Data(name));
            var whole = Image.Decode(file, name).Pixels;
            for (int n = 0; n < file.Length; n++)
            {
                try
                {
                    // Only a file cut after its last pixel (in ancillary chunks after the image data, or at PNG's IEND or
                    // JPEG's EOI) may still decode, and then to the whole picture: never to a partial one.
                    Assert.Equal(whole, Image.Decode(file.AsSpan(0, n), "cut").Pixels);
                }
                catch (DataException e) { Assert.StartsWith("cut: ", e.Message); }
            }
        }
    }

    [Fact]
    public void TextAndGarbageAreRefusedByName()
    {
        var e = Assert.Throws<DataException>(() => Image.Decode("hello, world"u8, "notes.txt"));
        Assert.Equal("notes.txt: not a PNG, JPEG, WebP, GIF or BMP image", e.Message);
        var junk = new byte[600];
        new Random(1).NextBytes(junk);
        junk[0] = 0xFF; junk[1] = 0xD8; junk[2] = 0xFF;
        Assert.StartsWith("junk.jpg: ", Assert.Throws<DataException>(() => Image.Decode(junk, "junk.jpg")).Message);
    }

    [Fact]
    public void AHeaderPromisingAHugeImageIsRefusedBeforeAllocating()
    {
        var png = File.ReadAllBytes(TestFiles.Data("rgb8.png"));
        // IHDR's width and height, then its CRC recomputed, so only the size is wrong.
        foreach (var (w, h, says) in new[] { (100_000, 100_000, "larger than this reader takes"), (5000, 5000, "more than 548 bytes can plausibly hold") })
        {
            BinaryPrimitives.WriteInt32BigEndian(png.AsSpan(16), w);
            BinaryPrimitives.WriteInt32BigEndian(png.AsSpan(20), h);
            BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(29), TestFiles.ZlibCrc(png.AsSpan(12, 17)));
            long before = GC.GetAllocatedBytesForCurrentThread();
            Assert.Contains(says, Assert.Throws<DataException>(() => Image.Decode(png, "liar.png")).Message);
            Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);
        }
    }
}
