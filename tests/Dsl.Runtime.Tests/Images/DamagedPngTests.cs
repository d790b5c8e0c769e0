using Dsl.Runtime.Images;
using Xunit;

namespace Dsl.Runtime.Tests.Images;

/// <summary>Damaged PNG files each get their own accurate message naming the file, not "the file ends before its
/// header does". The bytes were made by hand with Python's zlib (CRCs from zlib.crc32), independently of the reader.</summary>
public class DamagedPngTests
{
    // A 2x2 grey PNG: IHDR (2 x 2, 8-bit grey), one IDAT, IEND.
    static byte[] Good() => Convert.FromHexString(
        "89504e470d0a1a0a0000000d494844520000000200000002080000000057dd52f80000000e49444154789c6310506030700000017600a1ec308af40000000049454e44ae426082");

    // IHDR declaring 0 x 0 pixels, its CRC right.
    static readonly byte[] ZeroByZero = Convert.FromHexString(
        "89504e470d0a1a0a0000000d49484452000000000000000008000000001ee023ce0000000849444154789c030000000001480689d20000000049454e44ae426082");

    [Fact]
    public void TheHandMadePngDecodes() => Assert.Equal(new byte[] { 0x10, 0x20, 0x30, 0x40 }, Image.Decode(Good(), "good.png").Pixels);

    [Fact]
    public void ABadCrcInTheHeaderIsNamed()
    {
        var png = Good();
        png[29] ^= 0x01; // IHDR's CRC: bytes 29..32
        var message = Assert.Throws<DataException>(() => Image.Decode(png, "crc.png")).Message;
        Assert.StartsWith("crc.png: ", message);
        Assert.Contains("chunk IHDR", message);
        Assert.Contains("CRC", message);
        Assert.DoesNotContain("ends before", message);
    }

    [Fact]
    public void ABadCrcInTheImageDataIsNamed()
    {
        var png = Good();
        png[png.Length - 13] ^= 0x01; // IDAT's CRC: the 4 bytes before IEND's 12
        var message = Assert.Throws<DataException>(() => Image.Decode(png, "data.png")).Message;
        Assert.StartsWith("data.png: ", message);
        Assert.Contains("chunk IDAT", message);
        Assert.Contains("CRC", message);
    }

    [Fact]
    public void ZeroWidthAndHeightAreNamed()
    {
        var message = Assert.Throws<DataException>(() => Image.Decode(ZeroByZero, "empty.png")).Message;
        Assert.StartsWith("empty.png: ", message);
        Assert.Contains("0x0", message);
        Assert.DoesNotContain("ends before", message);
    }

    [Fact]
    public void AFileCutInsideItsHeaderSaysWhere() =>
        Assert.Equal("cut.png: the file ends inside chunk IHDR at byte 8 (it is truncated)",
            Assert.Throws<DataException>(() => Image.Decode(Good()[..20], "cut.png")).Message);
}
