using Dsl.Compiler;
using Dsl.Core;
using Google.Protobuf;
using Microsoft.FSharp.Collections;
using Onnx;

namespace Dsl.Runtime;

/// <summary>`dsl import`: an ONNX model whose graph is a chain of layers the language has, read into the network and
/// weights a model file would give. The graph is walked in its (topological) node order, following the one tensor that
/// flows from the input to the output; shape arithmetic the exporters leave (Shape, Gather, Unsqueeze, Concat feeding a
/// Reshape) is folded, since the input size is fixed. Whatever has no layer is collected, and the whole list refused at
/// once with an <see cref="OnnxImportException"/>.</summary>
public static class OnnxImport
{
    public const int MinOpset = 7, MaxOpset = 21;

    /// <summary>Reads <paramref name="path"/>; <paramref name="input"/> gives the image size where the file leaves it open.</summary>
    public static ImportedNetwork Read(string path, string name, Shape? input = null)
    {
        var model = Load(path);
        var opset = model.OpsetImport.Where(o => o.Domain is "" or "ai.onnx").Select(o => (long?)o.Version).FirstOrDefault()
                    ?? throw new OnnxImportException($"{path} names no version of the standard ONNX operator set (opset_import); it is not a model dsl can read");
        if (opset is < MinOpset or > MaxOpset)
            throw new OnnxImportException($"{path} uses ONNX opset {opset}; dsl import reads opsets {MinOpset} to {MaxOpset}: re-export it with one of them");
        var walk = new OnnxGraphWalk(path, model.Graph, (int)opset, input);
        var (layers, lines, weights, notes) = walk.Run();
        var network = NetworkModule.create(name, walk.InputShape, ListModule.OfSeq(layers), null);
        var inferred = Shapes.infer(network);
        var named = new Dictionary<string, float[]>();
        var shapes = new Dictionary<string, long[]>();
        foreach (var (node, i) in network.Nodes.Select((n, i) => (n, i)))
        foreach (var (role, (values, dims)) in weights[i])
        {
            named[$"{node.Name}.{role}"] = values;
            shapes[$"{node.Name}.{role}"] = dims;
        }
        return new ImportedNetwork(inferred, lines, named, shapes, (int)opset,
            string.Join(" ", new[] { model.ProducerName, model.ProducerVersion }.Where(s => s.Length > 0)), notes);
    }

    static ModelProto Load(string path)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new OnnxImportException($"cannot read {path}: {e.Message}");
        }
        ModelProto model;
        try { model = ModelProto.Parser.ParseFrom(bytes); }
        catch (InvalidProtocolBufferException e)
        {
            throw new OnnxImportException($"{path} is not a readable ONNX model ({bytes.Length} bytes that do not parse as protobuf: {e.Message}); " +
                                          "a truncated download, or another format?");
        }
        if (model.Graph is null || model.Graph.Node.Count == 0)
            throw new OnnxImportException($"{path} holds no ONNX graph ({bytes.Length} bytes): a truncated download, or another format?");
        return model;
    }
}
