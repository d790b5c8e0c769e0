using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;

namespace Dsl.Runtime;

/// <summary>Appends nodes, initializers and declared tensor shapes to an ONNX graph; keeps the protobuf plumbing
/// out of <see cref="OnnxExport"/>'s layer-by-layer mapping.</summary>
internal sealed class OnnxGraph(string name)
{
    /// <summary>The symbolic batch dimension of every activation.</summary>
    public const string Batch = "batch";

    public GraphProto Graph { get; } = new() { Name = name };

    public void Node(string op, string name, IEnumerable<string> inputs, string output, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = op, Name = name };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        node.Attribute.AddRange(attributes);
        Graph.Node.Add(node);
    }

    public static AttributeProto Int(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto Ints(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    public static AttributeProto Float(string name, double value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = (float)value };

    /// <summary>A float32 initializer as raw little-endian bytes (the compact form; the runtime is little-endian, as safetensors is).</summary>
    public void Initializer(string name, long[] dims, ReadOnlySpan<float> values) =>
        AddInitializer(name, dims, TensorProto.Types.DataType.Float, ByteString.CopyFrom(MemoryMarshal.AsBytes(values)));

    /// <summary>An int64 initializer: operator arguments that opset 13 takes as inputs (Pad's pads).</summary>
    public void Initializer(string name, long[] dims, ReadOnlySpan<long> values) =>
        AddInitializer(name, dims, TensorProto.Types.DataType.Int64, ByteString.CopyFrom(MemoryMarshal.AsBytes(values)));

    void AddInitializer(string name, long[] dims, TensorProto.Types.DataType type, ByteString data)
    {
        var t = new TensorProto { Name = name, DataType = (int)type, RawData = data };
        t.Dims.AddRange(dims);
        Graph.Initializer.Add(t);
    }

    /// <summary>A float32 tensor of shape [batch, ...dims].</summary>
    public static ValueInfoProto Value(string name, IEnumerable<long> dims)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = Batch });
        foreach (var d in dims) shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        var tensor = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape };
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = tensor } };
    }
}
