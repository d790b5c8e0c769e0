using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace Dsl.Runtime;

/// <summary>The safetensors format: an 8-byte little-endian header length, a JSON header naming each tensor's
/// dtype, shape and byte range, then the raw little-endian data. Other tools (PyTorch, NumPy) read it.</summary>
public static class SafeTensors
{
    /// <summary>Writes to a temporary file and renames it, so a killed run never leaves a half-written file.</summary>
    public static void Save(string path, IEnumerable<(string name, float[] data)> tensors, IDictionary<string, string>? metadata = null)
    {
        var list = tensors.ToList();
        var header = new Dictionary<string, object>();
        if (metadata is { Count: > 0 }) header["__metadata__"] = metadata;
        long offset = 0;
        foreach (var (name, data) in list)
        {
            header[name] = new { dtype = "F32", shape = new[] { data.Length }, data_offsets = new[] { offset, offset + 4L * data.Length } };
            offset += 4L * data.Length;
        }
        var json = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(header));
        int pad = (8 - json.Length % 8) % 8;
        var tmp = path + ".tmp";
        using (var f = new FileStream(tmp, FileMode.Create, FileAccess.Write))
        {
            Span<byte> len = stackalloc byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(len, json.Length + pad);
            f.Write(len);
            f.Write(json);
            for (int i = 0; i < pad; i++) f.WriteByte((byte)' ');
            foreach (var (_, data) in list)
                f.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(data.AsSpan()));
            f.Flush(true);
        }
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>Reads every F32 tensor of a safetensors file, flattened.</summary>
    public static Dictionary<string, float[]> Load(string path) => LoadWithMetadata(path).tensors;

    /// <summary>Reads every F32 tensor and the header's string metadata.</summary>
    /// <summary>The header's string metadata alone, without reading the tensors (AlexNet's weights are 233 MB).</summary>
    public static Dictionary<string, string> ReadMetadata(string path)
    {
        if (!File.Exists(path)) throw new DataException($"{path} does not exist");
        using var f = File.OpenRead(path);
        Span<byte> len = stackalloc byte[8];
        if (f.Read(len) < 8) throw new DataException($"{path} is not a safetensors file (too short)");
        long n = BinaryPrimitives.ReadInt64LittleEndian(len);
        if (n <= 0 || 8 + n > f.Length) throw new DataException($"{path} is not a safetensors file (bad header length)");
        var header = new byte[n];
        f.ReadExactly(header);
        try
        {
            using var doc = JsonDocument.Parse(header);
            return doc.RootElement.TryGetProperty("__metadata__", out var m)
                ? m.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? "")
                : new Dictionary<string, string>();
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            throw new DataException($"{path} is not a safetensors file (unreadable header: {e.Message})", e);
        }
    }

    public static (Dictionary<string, float[]> tensors, Dictionary<string, string> metadata) LoadWithMetadata(string path)
    {
        if (!File.Exists(path)) throw new DataException($"{path} does not exist");
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < 8) throw new DataException($"{path} is not a safetensors file (too short)");
        long n = BinaryPrimitives.ReadInt64LittleEndian(bytes);
        if (n <= 0 || 8 + n > bytes.Length) throw new DataException($"{path} is not a safetensors file (bad header length)");
        // A file that is not safetensors at all is a clear error, not a JSON reader's exception.
        try { return Read(bytes, n, path); }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or IndexOutOfRangeException)
        {
            throw new DataException($"{path} is not a safetensors file (unreadable header: {e.Message})", e);
        }
    }

    static (Dictionary<string, float[]> tensors, Dictionary<string, string> metadata) Read(byte[] bytes, long n, string path)
    {
        using var doc = JsonDocument.Parse(bytes.AsMemory(8, (int)n));
        var result = new Dictionary<string, float[]>();
        var metadata = new Dictionary<string, string>();
        foreach (var p in doc.RootElement.EnumerateObject())
        {
            if (p.Name == "__metadata__")
            {
                foreach (var m in p.Value.EnumerateObject()) metadata[m.Name] = m.Value.GetString() ?? "";
                continue;
            }
            if (p.Value.GetProperty("dtype").GetString() != "F32") throw new DataException($"{path}: tensor {p.Name} is not F32");
            var off = p.Value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            if (off[1] < off[0] || 8 + n + off[1] > bytes.Length) throw new DataException($"{path}: tensor {p.Name} lies outside the file (truncated?)");
            var data = new float[(off[1] - off[0]) / 4];
            Buffer.BlockCopy(bytes, (int)(8 + n + off[0]), data, 0, (int)(off[1] - off[0]));
            result[p.Name] = data;
        }
        return (result, metadata);
    }
}
