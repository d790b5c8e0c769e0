using System.Buffers.Binary;
using System.IO.Compression;

namespace Dsl.Runtime.Images;

/// <summary>PNG files, both ways. The encoder writes 8-bit grey, grey and alpha, RGB and RGBA, filtering each row
/// with whichever of the five filters gives the least sum of absolute differences (libpng's heuristic). The decoder
/// reads every non-interlaced PNG: all colour types, bit depths 1 to 16 (16 rounded to 8, grey below 8 scaled to
/// 0..255), palettes with or without transparency. A grey or RGB image's transparent colour (tRNS) is ignored: it
/// stays opaque. Anything wrong with a file is a <see cref="DataException"/> that names it and says what.</summary>
public static class Png
{
    static ReadOnlySpan<byte> Signature => [137, 80, 78, 71, 13, 10, 26, 10];

    public static bool IsPng(ReadOnlySpan<byte> data) => data.StartsWith(Signature);

    /// <summary>The image as a PNG file; 1 to 4 channels become colour types 0, 4, 2, 6.</summary>
    public static byte[] Encode(Image image)
    {
        using var file = new MemoryStream();
        file.Write(Signature);
        Span<byte> header = stackalloc byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, image.Width);
        BinaryPrimitives.WriteInt32BigEndian(header[4..], image.Height);
        header[8] = 8;
        header[9] = image.Channels switch { 1 => 0, 2 => 4, 3 => 2, _ => 6 };
        WriteChunk(file, "IHDR"u8, header);
        WriteChunk(file, "IDAT"u8, Compress(image));
        WriteChunk(file, "IEND"u8, []);
        return file.ToArray();
    }

    public static void Write(string path, Image image) => File.WriteAllBytes(path, Encode(image));

    static void WriteChunk(Stream s, ReadOnlySpan<byte> type, ReadOnlySpan<byte> body)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, body.Length);
        s.Write(word);
        s.Write(type);
        s.Write(body);
        BinaryPrimitives.WriteUInt32BigEndian(word, Crc32.Update(Crc32.Update(0, type), body));
        s.Write(word);
    }

    static byte[] Compress(Image image)
    {
        int bpp = image.Channels, stride = image.Width * bpp;
        var best = new byte[stride + 1];
        var trial = new byte[stride + 1];
        using var compressed = new MemoryStream();
        using (var z = new ZLibStream(compressed, CompressionLevel.Optimal, leaveOpen: true))
        {
            ReadOnlySpan<byte> prior = new byte[stride];
            for (int y = 0; y < image.Height; y++)
            {
                var row = image.Pixels.AsSpan(y * stride, stride);
                long bestScore = long.MaxValue;
                for (byte f = 0; f < 5; f++)
                {
                    trial[0] = f;
                    Filter(f, row, prior, bpp, trial.AsSpan(1));
                    long score = 0;
                    foreach (var b in trial.AsSpan(1)) score += Math.Abs((int)(sbyte)b);
                    if (score < bestScore) (bestScore, best, trial) = (score, trial, best);
                }
                z.Write(best);
                prior = row;
            }
        }
        return compressed.ToArray();
    }

    /// <summary>Filters a row; the type is chosen once per row, so each loop is a plain pass the JIT keeps tight.</summary>
    static void Filter(byte type, ReadOnlySpan<byte> row, ReadOnlySpan<byte> up, int step, Span<byte> output)
    {
        int n = row.Length, head = Math.Min(step, n);
        switch (type)
        {
            case 0: row.CopyTo(output); break;
            case 1:
                row[..head].CopyTo(output);
                for (int i = head; i < n; i++) output[i] = (byte)(row[i] - row[i - step]);
                break;
            case 2:
                for (int i = 0; i < n; i++) output[i] = (byte)(row[i] - up[i]);
                break;
            case 3:
                for (int i = 0; i < head; i++) output[i] = (byte)(row[i] - (up[i] >> 1));
                for (int i = head; i < n; i++) output[i] = (byte)(row[i] - ((row[i - step] + up[i]) >> 1));
                break;
            default:
                for (int i = 0; i < head; i++) output[i] = (byte)(row[i] - up[i]);
                for (int i = head; i < n; i++) output[i] = (byte)(row[i] - Paeth(row[i - step], up[i], up[i - step]));
                break;
        }
    }

    /// <summary>Undoes <see cref="Filter"/> in place, reading the row above as already unfiltered.</summary>
    static void Unfilter(int type, Span<byte> row, ReadOnlySpan<byte> up, int step)
    {
        int n = row.Length, head = Math.Min(step, n);
        switch (type)
        {
            case 0: break;
            case 1:
                for (int i = head; i < n; i++) row[i] += row[i - step];
                break;
            case 2:
                for (int i = 0; i < n; i++) row[i] += up[i];
                break;
            case 3:
                for (int i = 0; i < head; i++) row[i] += (byte)(up[i] >> 1);
                for (int i = head; i < n; i++) row[i] += (byte)((row[i - step] + up[i]) >> 1);
                break;
            default:
                for (int i = 0; i < head; i++) row[i] += up[i];
                for (int i = head; i < n; i++) row[i] += (byte)Paeth(row[i - step], up[i], up[i - step]);
                break;
        }
    }

    static int Paeth(int a, int b, int c)
    {
        int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }

    /// <summary>Decodes a PNG; <paramref name="source"/> names it in messages.</summary>
    public static Image Decode(ReadOnlySpan<byte> data, string source)
    {
        if (!IsPng(data)) throw Fail(source, "not a PNG file (bad signature)");
        Header? header = null;
        byte[]? palette = null, transparency = null;
        using var idat = new MemoryStream();
        int pos = Signature.Length;
        for (bool end = false; !end;)
        {
            if (pos == data.Length) throw Fail(source, "truncated: the file ends before its IEND chunk");
            if (pos + 8 > data.Length) throw Fail(source, "truncated in a chunk header");
            uint length = BinaryPrimitives.ReadUInt32BigEndian(data[pos..]);
            var typeBytes = data.Slice(pos + 4, 4);
            string type = ChunkName(typeBytes);
            if (length > int.MaxValue || pos + 12L + length > data.Length)
                throw Fail(source, $"truncated {type} chunk: it declares {length} bytes, the file holds {Math.Max(0, data.Length - pos - 12)} more");
            var body = data.Slice(pos + 8, (int)length);
            if (Crc32.Update(0, data.Slice(pos + 4, 4 + (int)length)) != BinaryPrimitives.ReadUInt32BigEndian(data[(pos + 8 + (int)length)..]))
                throw Fail(source, $"bad CRC in the {type} chunk: the file is corrupt");
            pos += 12 + (int)length;
            if (header is null && type != "IHDR") throw Fail(source, $"the first chunk is {type}, not IHDR");
            switch (type)
            {
                case "IHDR": header = Header.Parse(body, source); break;
                case "PLTE": palette = body.ToArray(); break;
                case "tRNS": transparency = body.ToArray(); break;
                case "IDAT": idat.Write(body); break;
                case "IEND": end = true; break;
                // Lower case first letter: ancillary (text, gamma, time...), safe to skip; upper case: needed to decode.
                default: if (!char.IsAsciiLetterLower(type[0])) throw Fail(source, $"unknown critical chunk {type}"); break;
            }
        }
        var h = header!;
        if (idat.Length == 0) throw Fail(source, "no IDAT chunk: the file holds no image data");
        if (h.ColourType == 3 && (palette is null || palette.Length % 3 != 0))
            throw Fail(source, palette is null ? "a palette image without a PLTE chunk" : "a PLTE chunk whose length is not a multiple of 3");
        var raw = Inflate(idat, (long)(h.Stride + 1) * h.Height, source);
        Unfilter(raw, h, source);
        return Expand(raw, h, palette, transparency, source);
    }

    static string ChunkName(ReadOnlySpan<byte> type)
    {
        foreach (var b in type) if (!char.IsAsciiLetter((char)b)) return "0x" + Convert.ToHexString(type);
        return System.Text.Encoding.ASCII.GetString(type);
    }

    static DataException Fail(string source, string problem) => new($"{source}: {problem}");

    /// <summary>The fields of IHDR that decoding needs, checked.</summary>
    sealed record Header(int Width, int Height, int Depth, int ColourType)
    {
        public int Samples => ColourType switch { 0 => 1, 2 => 3, 3 => 1, 4 => 2, _ => 4 };
        public int BitsPerPixel => Samples * Depth;
        public int Stride => (int)(((long)Width * BitsPerPixel + 7) / 8);
        /// <summary>The byte distance filters look back: one whole pixel, or one byte below 8 bits a pixel.</summary>
        public int FilterStep => Math.Max(1, BitsPerPixel / 8);

        public static Header Parse(ReadOnlySpan<byte> b, string source)
        {
            if (b.Length != 13) throw Fail(source, $"an IHDR chunk of {b.Length} bytes, not 13");
            int w = BinaryPrimitives.ReadInt32BigEndian(b), h = BinaryPrimitives.ReadInt32BigEndian(b[4..]);
            int depth = b[8], colour = b[9];
            if (w <= 0 || h <= 0) throw Fail(source, $"an image of {(uint)w}x{(uint)h} pixels");
            if ((long)w * h > Image.MaxPixels) throw Fail(source, $"an image of {w}x{h} pixels is larger than this reader takes ({Image.MaxPixels} pixels)");
            bool valid = colour switch
            {
                0 => depth is 1 or 2 or 4 or 8 or 16,
                3 => depth is 1 or 2 or 4 or 8,
                2 or 4 or 6 => depth is 8 or 16,
                _ => false,
            };
            if (!valid) throw Fail(source, $"colour type {colour} with bit depth {depth} is not a valid PNG combination");
            if (b[10] != 0 || b[11] != 0) throw Fail(source, $"unknown compression method {b[10]} or filter method {b[11]}");
            if (b[12] == 1) throw Fail(source, "interlaced PNG is not supported; save it without interlacing (`convert in.png -interlace none out.png`)");
            if (b[12] != 0) throw Fail(source, $"unknown interlace method {b[12]}");
            var header = new Header(w, h, depth, colour);
            if ((long)(header.Stride + 1) * h > Array.MaxLength) throw Fail(source, $"an image of {w}x{h} pixels at {depth} bits is larger than this reader takes");
            return header;
        }
    }

    static byte[] Inflate(MemoryStream idat, long size, string source)
    {
        var raw = new byte[size];
        idat.Position = 0;
        try
        {
            using var z = new ZLibStream(idat, CompressionMode.Decompress);
            int read = z.ReadAtLeast(raw, raw.Length, throwOnEndOfStream: false);
            if (read < raw.Length) throw Fail(source, $"truncated IDAT data: it holds {read} of the image's {size} bytes");
        }
        catch (InvalidDataException e)
        {
            throw Fail(source, $"corrupt IDAT data ({e.Message})");
        }
        return raw;
    }

    /// <summary>Undoes each row's filter in place; every row starts with its filter type byte.</summary>
    static void Unfilter(byte[] raw, Header h, string source)
    {
        int stride = h.Stride;
        // Before the first row, the row above is zeros.
        ReadOnlySpan<byte> up = new byte[stride];
        for (int y = 0; y < h.Height; y++)
        {
            int start = y * (stride + 1);
            int type = raw[start];
            if (type > 4) throw Fail(source, $"bad filter type {type} in row {y}");
            var row = raw.AsSpan(start + 1, stride);
            Unfilter(type, row, up, h.FilterStep);
            up = row;
        }
    }

    /// <summary>Unpacks samples to 8 bits and palette indices to colours.</summary>
    static Image Expand(byte[] raw, Header h, byte[]? palette, byte[]? transparency, string source)
    {
        bool indexed = h.ColourType == 3;
        int channels = indexed ? (transparency is null ? 3 : 4) : h.Samples;
        int samples = h.Samples, stride = h.Stride, w = h.Width;
        var output = new byte[(long)w * h.Height * channels];
        int maxValue = (1 << h.Depth) - 1;
        for (int y = 0; y < h.Height; y++)
        {
            var row = raw.AsSpan(y * (stride + 1) + 1, stride);
            var dst = output.AsSpan(y * w * channels, w * channels);
            // The common case, 8-bit samples, is already in the output's layout.
            if (h.Depth == 8 && !indexed) { row.CopyTo(dst); continue; }
            for (int x = 0; x < w * samples; x++)
            {
                int v = h.Depth switch
                {
                    8 => row[x],
                    16 => row[2 * x] << 8 | row[2 * x + 1],
                    // Below 8 bits, samples are packed from the high bit down.
                    _ => row[x * h.Depth / 8] >> (8 - h.Depth - x * h.Depth % 8) & maxValue,
                };
                if (!indexed)
                {
                    dst[x] = h.Depth == 16 ? (byte)((v * 255 + 32767) / 65535) : (byte)(v * 255 / maxValue);
                    continue;
                }
                if (3 * v >= palette!.Length) throw Fail(source, $"palette index {v} in row {y} is outside the {palette.Length / 3}-entry palette");
                palette.AsSpan(3 * v, 3).CopyTo(dst[(x * channels)..]);
                if (transparency is not null) dst[x * channels + 3] = v < transparency.Length ? transparency[v] : (byte)255;
            }
        }
        return new Image(w, h.Height, channels, output);
    }
}
