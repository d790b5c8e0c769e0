using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Dsl.Runtime.Output;

namespace Dsl.Runtime;

/// <summary>One tensor of a safetensors file: its values (row-major) and its shape.</summary>
public sealed record StoredTensor(float[] Values, long[] Shape);

/// <summary>The safetensors format: an 8-byte little-endian header length, a JSON header naming each tensor's
/// dtype, shape and byte range, then the raw little-endian data. Other tools (PyTorch, NumPy) read it.
/// Reading checks everything the header claims against the file before trusting it (the header's length, each
/// tensor's dtype, shape and byte range, ranges that overlap or leave gaps) and refuses a tensor holding NaN or
/// infinity: each refusal names the file and the tensor. A weights file is never written with a NaN in it.</summary>
public static class SafeTensors
{
    /// <summary>The reference implementation's limit: a longer header is a corrupt length, not a real header.</summary>
    const long MaxHeader = 100_000_000;

    /// <summary>Writes to a temporary file and renames it, so a killed run or a full disk never leaves a half-written
    /// file in place of the last whole one. <paramref name="shapeOf"/> gives each tensor's shape (conv
    /// [K, C/groups, R, S], dense [out, in]); without it, or where it says null, a tensor is stored flat.</summary>
    public static void Save(string path, IEnumerable<(string name, float[] data)> tensors, IDictionary<string, string>? metadata = null,
        Func<string, long[]?>? shapeOf = null)
    {
        var list = tensors.ToList();
        var header = new Dictionary<string, object>();
        if (metadata is { Count: > 0 }) header["__metadata__"] = metadata;
        long offset = 0;
        foreach (var (name, data) in list)
        {
            if (FirstNonFinite(data) is int bad)
                throw new DataException($"refusing to write {path}: tensor {name} holds {data[bad]} at index {bad}; the previous file is left as it was");
            var shape = shapeOf?.Invoke(name) ?? [data.Length];
            if (shape.Aggregate(1L, (a, b) => a * b) != data.Length)
                throw new ArgumentException($"tensor {name}: shape [{string.Join(", ", shape)}] does not hold its {data.Length} values");
            header[name] = new { dtype = "F32", shape, data_offsets = new[] { offset, offset + 4L * data.Length } };
            offset += 4L * data.Length;
        }
        var json = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(header));
        int pad = (8 - json.Length % 8) % 8;
        AtomicFile.Write(path, f =>
        {
            Span<byte> len = stackalloc byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(len, json.Length + pad);
            f.Write(len);
            f.Write(json);
            for (int i = 0; i < pad; i++) f.WriteByte((byte)' ');
            foreach (var (_, data) in list) f.Write(MemoryMarshal.AsBytes(data.AsSpan()));
        });
    }

    /// <summary>Reads every F32 tensor of a safetensors file, flattened.</summary>
    public static Dictionary<string, float[]> Load(string path) => LoadWithMetadata(path).tensors;

    /// <summary>Reads every F32 tensor, flattened, and the header's string metadata.</summary>
    public static (Dictionary<string, float[]> tensors, Dictionary<string, string> metadata) LoadWithMetadata(string path)
    {
        var (tensors, metadata) = Read(path);
        return (tensors.ToDictionary(t => t.Key, t => t.Value.Values), metadata);
    }

    /// <summary>The header's string metadata alone, without reading the tensors (AlexNet's weights are 233 MB).</summary>
    public static Dictionary<string, string> ReadMetadata(string path)
    {
        using var f = Open(path);
        return Header(f, path).metadata;
    }

    /// <summary>Every tensor with its shape, and the metadata; checked as the class comment says.</summary>
    public static (Dictionary<string, StoredTensor> tensors, Dictionary<string, string> metadata) Read(string path)
    {
        using var f = Open(path);
        var (entries, metadata, dataStart) = Header(f, path);
        var tensors = new Dictionary<string, StoredTensor>();
        foreach (var e in entries)
        {
            var values = new float[(e.End - e.Begin) / 4];
            f.Position = dataStart + e.Begin;
            f.ReadExactly(MemoryMarshal.AsBytes(values.AsSpan()));
            if (FirstNonFinite(values) is int bad)
                throw new DataException($"{path}: tensor {e.Name} holds {values[bad]} at index {bad} (of {values.Length}); the file is corrupt or was saved from a diverged run");
            tensors[e.Name] = new StoredTensor(values, e.Shape);
        }
        return (tensors, metadata);
    }

    sealed record Entry(string Name, long[] Shape, long Begin, long End);

    static FileStream Open(string path)
    {
        if (Directory.Exists(path)) throw new DataException($"{path} is a folder, not a safetensors file");
        if (!File.Exists(path)) throw new DataException($"{path} does not exist");
        if (Data.FileKinds.NotARegularFile(path) is string why) throw new DataException($"{path} {why}");
        try { return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DataException($"cannot read {path}: {AtomicFile.Reason(e)}", e);
        }
    }

    /// <summary>The tensors' entries, sorted by where their data lies, after checking them against the file; the metadata;
    /// and where the data starts.</summary>
    static (List<Entry> entries, Dictionary<string, string> metadata, long dataStart) Header(FileStream f, string path)
    {
        DataException Bad(string why) => new($"{path} is not a valid safetensors file: {why}");
        Span<byte> len = stackalloc byte[8];
        if (f.Length < 8) throw Bad($"it is {f.Length} bytes long, shorter than the 8-byte header length");
        f.ReadExactly(len);
        long n = BinaryPrimitives.ReadInt64LittleEndian(len);
        if (n <= 0 || n > f.Length - 8 || n > MaxHeader)
            throw Bad($"the header length {n} is {(n <= 0 ? "not positive" : n > MaxHeader ? $"over the format's limit of {MaxHeader} bytes" : $"beyond the file's {f.Length} bytes")} (truncated, or not safetensors)");
        var bytes = new byte[n];
        f.ReadExactly(bytes);
        long dataLength = f.Length - 8 - n;
        var entries = new List<Entry>();
        var metadata = new Dictionary<string, string>();
        JsonDocument doc;
        try { doc = JsonDocument.Parse(bytes); }
        catch (JsonException e) { throw Bad($"the header is not JSON ({e.Message})"); }
        using (doc)
        try
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw Bad("the header is not a JSON object");
            var names = new HashSet<string>();
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                if (!names.Add(p.Name)) throw Bad($"tensor {p.Name} appears twice in the header");
                if (p.Name == "__metadata__")
                {
                    if (p.Value.ValueKind != JsonValueKind.Object) throw Bad("__metadata__ is not an object");
                    foreach (var m in p.Value.EnumerateObject())
                        metadata[m.Name] = m.Value.ValueKind == JsonValueKind.String ? m.Value.GetString()! : throw Bad($"metadata {m.Name} is not a string");
                    continue;
                }
                entries.Add(ReadEntry(p, path, dataLength));
            }
        }
        // A name or string whose bytes are not UTF-8 fails only when it is read.
        catch (InvalidOperationException e) { throw Bad($"the header is not valid UTF-8 JSON ({e.Message})"); }
        // Sorted by offset, each tensor must start where the previous ended and the last end at the file's end:
        // an overlap would read one tensor's bytes as another's, a gap would hide bytes that belong to nothing.
        entries.Sort((a, b) => a.Begin.CompareTo(b.Begin));
        long at = 0;
        foreach (var e in entries)
        {
            if (e.Begin != at)
                throw Bad(e.Begin < at ? $"tensor {e.Name}'s bytes ({e.Begin}..{e.End}) overlap another tensor's (which end at {at})"
                                       : $"nothing lies in bytes {at}..{e.Begin} before tensor {e.Name}");
            at = e.End;
        }
        if (at != dataLength) throw Bad($"the tensors end at byte {at} of the data but the file holds {dataLength} bytes of data");
        return (entries, metadata, 8 + n);
    }

    static Entry ReadEntry(JsonProperty p, string path, long dataLength)
    {
        DataException Bad(string why) => new($"{path}: tensor {p.Name}: {why}");
        var t = p.Value;
        if (t.ValueKind != JsonValueKind.Object) throw Bad("its header entry is not an object");
        if (!t.TryGetProperty("dtype", out var dtype) || dtype.ValueKind != JsonValueKind.String) throw Bad("no dtype");
        if (dtype.GetString() != "F32") throw Bad($"dtype {dtype.GetString()}; only F32 tensors are read");
        if (!t.TryGetProperty("shape", out var shapeJson) || shapeJson.ValueKind != JsonValueKind.Array) throw Bad("no shape");
        var shape = shapeJson.EnumerateArray().Select(d => d.ValueKind == JsonValueKind.Number && d.TryGetInt64(out var v) && v >= 0 ? v : -1).ToArray();
        if (shape.Any(d => d < 0)) throw Bad($"shape {shapeJson.GetRawText()} is not a list of sizes");
        if (!t.TryGetProperty("data_offsets", out var offJson) || offJson.ValueKind != JsonValueKind.Array || offJson.GetArrayLength() != 2)
            throw Bad("data_offsets is not a pair [begin, end]");
        var off = offJson.EnumerateArray().Select(d => d.ValueKind == JsonValueKind.Number && d.TryGetInt64(out var v) ? v : -1).ToArray();
        if (off[0] < 0 || off[1] < 0) throw Bad($"data_offsets {offJson.GetRawText()} are not byte positions");
        if (off[1] < off[0]) throw Bad($"data_offsets {offJson.GetRawText()} end before they begin");
        if (off[1] > dataLength) throw Bad($"its bytes {off[0]}..{off[1]} lie beyond the file's {dataLength} bytes of data (truncated?)");
        long elements = 1;
        foreach (var d in shape) elements = d == 0 ? 0 : elements > long.MaxValue / 4 / d ? long.MaxValue / 4 : elements * d;
        if (elements * 4 != off[1] - off[0]) throw Bad($"shape [{string.Join(", ", shape)}] needs {elements * 4} bytes but data_offsets give {off[1] - off[0]}");
        if (elements > Array.MaxLength) throw Bad($"{elements} values are more than one array holds");
        return new Entry(p.Name, shape, off[0], off[1]);
    }

    /// <summary>The index of the first NaN or infinity, if any.</summary>
    static int? FirstNonFinite(ReadOnlySpan<float> values)
    {
        for (int i = 0; i < values.Length; i++)
            if (!float.IsFinite(values[i])) return i;
        return null;
    }
}
