using Dsl.Runtime.Images;
using Xunit;
using Xunit.Abstractions;

namespace Dsl.Runtime.Tests.Images;

/// <summary>xunit 2.9 has no dynamic skip: without libturbojpeg these tests say why in their output and pass.</summary>
public class JpegTests(ITestOutputHelper output)
{
    bool Missing()
    {
        if (Jpeg.Available) return false;
        output.WriteLine($"skipped: libturbojpeg is not installed here ({Jpeg.MissingLibrary})");
        return true;
    }

    [Theory]
    [InlineData("colour.jpg", 3)]
    [InlineData("grey.jpg", 1)]
    public void DecodesAsImageMagickDoes(string name, int channels)
    {
        if (Missing()) return;
        var image = Image.Load(TestFiles.Data(name));
        Assert.Equal((40, 24, channels), (image.Width, image.Height, image.Channels));
        var expected = File.ReadAllBytes(TestFiles.Data(Path.ChangeExtension(name, ".rgba")));
        var actual = TestFiles.ToRgba(image);
        // Both go through libjpeg-turbo, but possibly with different IDCT and upsampling choices: allow a little.
        double meanError = expected.Zip(actual, (a, b) => Math.Abs(a - b)).Average();
        int maxError = expected.Zip(actual, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(meanError < 1.5 && maxError <= 16, $"mean error {meanError:F2}, max {maxError}");
    }

    [Fact]
    public void ShrinksInsideTheDecoderWhileTheShorterSideStaysLargeEnough()
    {
        if (Missing()) return;
        var path = TestFiles.Data("colour.jpg");
        var half = Image.Load(path, minSide: 12);
        Assert.Equal((20, 12), (half.Width, half.Height));
        Assert.Equal((40, 24), (Image.Load(path, minSide: 13).Width, Image.Load(path, minSide: 13).Height));
    }

    [Fact]
    public void ATruncatedJpegIsADataExceptionWithTurboJpegsMessage()
    {
        if (Missing()) return;
        var jpeg = File.ReadAllBytes(TestFiles.Data("colour.jpg"));
        var e = Assert.Throws<DataException>(() => Image.Decode(jpeg.AsSpan(0, jpeg.Length * 2 / 3), "cut.jpg"));
        Assert.StartsWith("cut.jpg: ", e.Message);
        output.WriteLine(e.Message);
    }

    [Fact]
    public void GarbageAfterTheJpegMarkerIsADataException()
    {
        if (Missing()) return;
        var junk = new byte[600];
        new Random(1).NextBytes(junk);
        junk[0] = 0xFF; junk[1] = 0xD8; junk[2] = 0xFF;
        var e = Assert.Throws<DataException>(() => Image.Decode(junk, "junk.jpg"));
        Assert.StartsWith("junk.jpg: ", e.Message);
    }

    [Fact]
    public void EveryTruncationDecodesOrThrowsDataException()
    {
        if (Missing()) return;
        var jpeg = File.ReadAllBytes(TestFiles.Data("grey.jpg"));
        for (int n = 3; n < jpeg.Length; n += 7)
        {
            try { Image.Decode(jpeg.AsSpan(0, n), "cut.jpg"); }
            catch (DataException) { }
        }
    }
}
