using System.Buffers.Binary;

namespace Dsl.Runtime.Images;

/// <summary>What is wrong with a PNG file the codec refused, told from its chunks: a chunk whose CRC does not match
/// (damaged bytes), a header declaring no pixels, a file cut short. Skia reports all of these as one "incomplete
/// input", which told a user with a damaged file to look for a truncated one.</summary>
static class PngChunks
{
    static ReadOnlySpan<byte> Signature => [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];
    static readonly uint[] Table = MakeTable();

    public static bool IsPng(ReadOnlySpan<byte> data) => data.StartsWith(Signature);

    /// <summary>The first problem met walking the chunks, in words; null when every chunk is whole and sound.</summary>
    public static string? Problem(ReadOnlySpan<byte> data)
    {
        int at = Signature.Length;
        while (at < data.Length)
        {
            if (data.Length - at < 12) return $"the file ends inside the chunk header at byte {at} (it is truncated)";
            uint length = BinaryPrimitives.ReadUInt32BigEndian(data[at..]);
            var type = System.Text.Encoding.ASCII.GetString(data.Slice(at + 4, 4));
            if (length > int.MaxValue || data.Length - at - 12 < length)
                return $"the file ends inside chunk {type} at byte {at} (it is truncated)";
            var body = data.Slice(at + 4, 4 + (int)length);
            uint stored = BinaryPrimitives.ReadUInt32BigEndian(data[(at + 8 + (int)length)..]);
            if (Crc(body) != stored) return $"bad CRC in chunk {type} at byte {at}: the file is damaged";
            if (type == "IHDR" && length >= 8)
            {
                uint width = BinaryPrimitives.ReadUInt32BigEndian(body[4..]), height = BinaryPrimitives.ReadUInt32BigEndian(body[8..]);
                if (width == 0 || height == 0) return $"the header declares {width}x{height} pixels (a zero width or height): there is no image";
            }
            if (type == "IEND") return null;
            at += 12 + (int)length;
        }
        return "the file ends before its IEND chunk (it is truncated)";
    }

    static uint Crc(ReadOnlySpan<byte> bytes)
    {
        uint c = 0xFFFFFFFF;
        foreach (var b in bytes) c = Table[(c ^ b) & 0xFF] ^ (c >> 8);
        return c ^ 0xFFFFFFFF;
    }

    // The CRC-32 of the PNG specification (ISO 3309), reflected polynomial 0xEDB88320.
    static uint[] MakeTable() => Enumerable.Range(0, 256).Select(n =>
    {
        uint c = (uint)n;
        for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
        return c;
    }).ToArray();
}
