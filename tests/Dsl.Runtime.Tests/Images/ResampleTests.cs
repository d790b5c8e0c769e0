using Dsl.Runtime.Images;
using Xunit;

namespace Dsl.Runtime.Tests.Images;

public class ResampleTests
{
    [Fact]
    public void CentreSquareKeepsTheMiddleOfAWideImage()
    {
        // 40 x 20: red left fifth, green middle, blue right fifth; the centre square (columns 10 to 29, and the filter's
        // reach of 2.5 pixels either side) is all green.
        var pixels = new byte[40 * 20 * 3];
        for (int y = 0; y < 20; y++)
            for (int x = 0; x < 40; x++)
                pixels[(y * 40 + x) * 3 + (x < 8 ? 0 : x < 32 ? 1 : 2)] = 255;
        var square = Resample.CentreSquare(new Image(40, 20, 3, pixels), 8);
        Assert.Equal((8, 8, 3), (square.Width, square.Height, square.Channels));
        for (int i = 0; i < 64; i++) Assert.Equal(new byte[] { 0, 255, 0 }, square.Pixels[(i * 3)..(i * 3 + 3)]);
    }

    [Fact]
    public void ShrinkingAveragesRatherThanSamples()
    {
        // A one-pixel checkerboard shrunk four times is flat grey; point sampling would keep it black or white.
        var pixels = new byte[64 * 64];
        for (int i = 0; i < pixels.Length; i++) pixels[i] = (byte)((i / 64 + i % 64) % 2 * 255);
        var small = Resample.CentreSquare(new Image(64, 64, 1, pixels), 16);
        Assert.All(small.Pixels, p => Assert.InRange(p, 120, 135));
    }

    [Fact]
    public void EnlargingAConstantImageKeepsItConstant()
    {
        var image = new Image(3, 5, 2, Enumerable.Repeat((byte)77, 30).ToArray());
        Assert.All(Resample.CentreSquare(image, 11).Pixels, p => Assert.Equal(77, p));
    }

    [Fact]
    public void ChannelConversionUsesLumaAndDropsAlpha()
    {
        var rgba = new Image(2, 1, 4, [255, 0, 0, 9, 10, 20, 30, 0]);
        Assert.Equal(new byte[] { 76, 18 }, rgba.WithChannels(1).Pixels);
        Assert.Equal(new byte[] { 255, 0, 0, 10, 20, 30 }, rgba.WithChannels(3).Pixels);
        Assert.Equal(new byte[] { 5, 5, 5 }, new Image(1, 1, 2, [5, 128]).WithChannels(3).Pixels);
    }
}
