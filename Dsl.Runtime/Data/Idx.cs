using System.Buffers.Binary;
using System.IO.Compression;

namespace Dsl.Runtime.Data;

/// <summary>Reads the IDX files of MNIST and Fashion-MNIST, gzipped or plain.</summary>
public static class Idx
{
    /// <exception cref="DataException">The gzip data is damaged (a changed byte fails its CRC or its inflation).</exception>
    public static byte[] ReadAll(string path)
    {
        using var file = File.OpenRead(path);
        Stream s = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(file, CompressionMode.Decompress) : file;
        using var ms = new MemoryStream();
        try { s.CopyTo(ms); }
        catch (InvalidDataException e) { throw new DataException($"{path} is damaged: its gzip data does not decompress ({e.Message.TrimEnd('.')})", e); }
        return ms.ToArray();
    }

    /// <summary>Parses an IDX file of unsigned bytes; returns its dimensions and data.</summary>
    public static (int[] dims, byte[] data) Parse(byte[] raw, string path)
    {
        if (raw.Length < 4 || raw[0] != 0 || raw[1] != 0 || raw[2] != 0x08)
            throw new DataException($"{path} is not an IDX file of unsigned bytes (bad magic number)");
        int rank = raw[3];
        if (raw.Length < 4 + 4 * rank) throw new DataException($"{path} is truncated in its header");
        var dims = new int[rank];
        long count = 1;
        for (int i = 0; i < rank; i++)
        {
            dims[i] = BinaryPrimitives.ReadInt32BigEndian(raw.AsSpan(4 + 4 * i));
            count *= dims[i];
        }
        int start = 4 + 4 * rank;
        if (raw.Length - start != count)
            throw new DataException($"{path} should hold {count} values after its header, holds {raw.Length - start}: the file is truncated or corrupt");
        return (dims, raw[start..]);
    }

    /// <summary>Reads an image file and its label file into an image set.</summary>
    public static ImageSet Load(string imagesPath, string labelsPath, IReadOnlyList<string> classNames)
    {
        var (idims, pixels) = Parse(ReadAll(imagesPath), imagesPath);
        var (ldims, labelBytes) = Parse(ReadAll(labelsPath), labelsPath);
        if (idims.Length != 3 || ldims.Length != 1 || idims[0] != ldims[0])
            throw new DataException($"{imagesPath} and {labelsPath} do not match: {string.Join("x", idims)} images, {string.Join("x", ldims)} labels");
        var labels = labelBytes.Select(b => (int)b).ToArray();
        if (labels.Any(l => l >= classNames.Count)) throw new DataException($"{labelsPath} has a label outside 0..{classNames.Count - 1}");
        return new ImageSet(pixels, labels, 1, idims[1], idims[2], classNames);
    }
}
