using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Onnx;
using static Onnx.TensorProto.Types;

namespace Dsl.Runtime;

/// <summary>The values of an ONNX tensor (an initializer or a Constant's value), wherever the file keeps them: typed
/// fields, raw bytes, or an external data file next to the model. Weights come out as float32 (float16 and float64
/// converted, and listed in <see cref="Converted"/>); shape arithmetic as int64. Quantised types are refused.</summary>
internal sealed class OnnxTensors(string modelPath)
{
    readonly string directory = Path.GetDirectoryName(Path.GetFullPath(modelPath)) ?? ".";

    /// <summary>Tensors converted to float32 from another float type, each with its type ("conv1.weight (float16)").</summary>
    public List<string> Converted { get; } = [];

    public static string TypeName(int type) => Enum.IsDefined(typeof(DataType), type) ? ((DataType)type).ToString().ToLowerInvariant() : $"type {type}";

    public static bool IsFloat(int type) => type is (int)DataType.Float or (int)DataType.Float16 or (int)DataType.Double;

    public static bool IsInteger(int type) => type is (int)DataType.Int64 or (int)DataType.Int32;

    public static long Count(TensorProto t) => t.Dims.Aggregate(1L, (a, b) => a * b);

    public float[] Floats(TensorProto t)
    {
        long n = Count(t);
        switch ((DataType)t.DataType)
        {
            case DataType.Float:
            {
                // Raw float32 bytes are copied as they are: this runtime is little-endian, as ONNX's raw data is.
                var values = t.FloatData.Count > 0 ? t.FloatData.ToArray() : MemoryMarshal.Cast<byte, float>(Bytes(t, 4, n)).ToArray();
                return Checked(t, values, n);
            }
            case DataType.Float16:
            {
                Converted.Add($"{t.Name} (float16)");
                // Typed float16 values sit in int32_data, one 16-bit pattern each.
                var values = t.Int32Data.Count > 0
                    ? t.Int32Data.Select(v => (float)BitConverter.UInt16BitsToHalf((ushort)v)).ToArray()
                    : Decode(t, 2, n, b => (float)BinaryPrimitives.ReadHalfLittleEndian(b));
                return Checked(t, values, n);
            }
            case DataType.Double:
            {
                Converted.Add($"{t.Name} (float64)");
                var values = t.DoubleData.Count > 0
                    ? t.DoubleData.Select(v => (float)v).ToArray()
                    : Decode(t, 8, n, b => (float)BinaryPrimitives.ReadDoubleLittleEndian(b));
                return Checked(t, values, n);
            }
            case DataType.Int8 or DataType.Uint8 or DataType.Int16 or DataType.Uint16:
                throw new OnnxImportException($"initializer {t.Name} is {TypeName(t.DataType)}, a quantised weight: dsl import reads float32 " +
                                              "(and converts float16 and float64); export the network before quantisation");
            default:
                throw new OnnxImportException($"tensor {t.Name} is {TypeName(t.DataType)}; a weight must be float32, float16 or float64");
        }
    }

    public long[] Longs(TensorProto t)
    {
        long n = Count(t);
        var values = (DataType)t.DataType switch
        {
            DataType.Int64 => t.Int64Data.Count > 0 ? t.Int64Data.ToArray() : Decode(t, 8, n, b => BinaryPrimitives.ReadInt64LittleEndian(b)),
            DataType.Int32 => t.Int32Data.Count > 0 ? t.Int32Data.Select(v => (long)v).ToArray() : Decode(t, 4, n, b => (long)BinaryPrimitives.ReadInt32LittleEndian(b)),
            _ => throw new OnnxImportException($"tensor {t.Name} is {TypeName(t.DataType)}; a shape or an index must be int64 or int32"),
        };
        return Checked(t, values, n);
    }

    static T[] Checked<T>(TensorProto t, T[] values, long n) =>
        values.Length == n ? values
            : throw new OnnxImportException($"tensor {t.Name} has shape [{string.Join(", ", t.Dims)}] ({n} values) but holds {values.Length}: the file is damaged or truncated");

    byte[] Bytes(TensorProto t, int size, long n)
    {
        var bytes = t.DataLocation == DataLocation.External ? External(t, size * n) : t.RawData.ToByteArray();
        if (bytes.Length != size * n)
            throw new OnnxImportException($"tensor {t.Name} has shape [{string.Join(", ", t.Dims)}] ({n} values of {size} bytes) but holds {bytes.Length} bytes: the file is damaged or truncated");
        return bytes;
    }

    T[] Decode<T>(TensorProto t, int size, long n, Func<ReadOnlySpan<byte>, T> read)
    {
        var bytes = Bytes(t, size, n);
        var values = new T[n];
        for (long i = 0; i < n; i++) values[i] = read(bytes.AsSpan((int)(i * size), size));
        return values;
    }

    /// <summary>External data: "location" relative to the model's folder, optional "offset" and "length" in bytes.</summary>
    byte[] External(TensorProto t, long expected)
    {
        var entries = t.ExternalData.ToDictionary(e => e.Key, e => e.Value);
        if (!entries.TryGetValue("location", out var location) || location.Length == 0)
            throw new OnnxImportException($"tensor {t.Name} keeps its data in an external file but does not say which (no \"location\")");
        var path = Path.GetFullPath(Path.Combine(directory, location));
        if (!File.Exists(path))
            throw new OnnxImportException($"tensor {t.Name} keeps its data in {location}, which is missing (looked for {path}): " +
                                          "copy the data files the exporter wrote next to the .onnx file");
        long offset = entries.TryGetValue("offset", out var o) && long.TryParse(o, out var ov) ? ov : 0;
        long length = entries.TryGetValue("length", out var l) && long.TryParse(l, out var lv) ? lv : expected;
        using var f = File.OpenRead(path);
        if (offset < 0 || length != expected || offset + length > f.Length)
            throw new OnnxImportException($"tensor {t.Name}: {location} holds {f.Length} bytes, too few for {expected} bytes at offset {offset} (a truncated data file?)");
        var bytes = new byte[length];
        f.Seek(offset, SeekOrigin.Begin);
        f.ReadExactly(bytes);
        return bytes;
    }
}
