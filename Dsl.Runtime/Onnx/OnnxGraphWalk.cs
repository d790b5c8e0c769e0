using Dsl.Core;
using Microsoft.FSharp.Core;
using Onnx;
using Weights = System.Collections.Generic.Dictionary<string, (float[] values, long[] dims)>;

namespace Dsl.Runtime;

/// <summary>One walk over an ONNX graph for <see cref="OnnxImport"/>: the nodes in file order, the one activation tensor
/// that flows through them (<c>current</c>, with its shape per example), the constants folded on the way, and each
/// node turned into a layer, a note, or a problem. Problems are collected so that the refusal lists all of them.</summary>
internal sealed partial class OnnxGraphWalk
{
    /// <summary>The batch dimension inside folded shape arithmetic: not known until run time.</summary>
    const long Batch = long.MinValue;

    readonly string path;
    readonly GraphProto graph;
    readonly int opset;
    readonly OnnxTensors tensors;
    /// <summary>Float constants by name: the initializers and Constant nodes' values, decoded only when a layer needs them.</summary>
    readonly Dictionary<string, TensorProto> constants = [];
    /// <summary>Folded integer constants (shape arithmetic): values, and whether the tensor is a scalar.</summary>
    readonly Dictionary<string, (long[] values, bool scalar)> ints = [];
    /// <summary>Tensors computed from the input, with their shape per example (null once a refused node has made it unknown).</summary>
    readonly Dictionary<string, Shape?> activations = [];
    /// <summary>Every tensor some node or the graph's output reads.</summary>
    readonly HashSet<string> read;
    readonly List<string> problems = [];
    readonly List<Layer> layers = [];
    readonly List<Weights> weights = [];
    readonly List<ImportedLine> lines = [];
    readonly List<string> notes = [];

    string current;
    Shape? shape;
    /// <summary>A MatMul's dense layer, until an Add of its bias follows (or not).</summary>
    (int layer, string output)? openMatMul;
    /// <summary>A Pad's zeros, until the average pool that reads them: the padding, the unpadded input, the Pad's name.</summary>
    (int pad, Shape.Chw input, string source)? zeroPadded;

    public Shape InputShape { get; }

    public OnnxGraphWalk(string path, GraphProto graph, int opset, Shape? input)
    {
        (this.path, this.graph, this.opset) = (path, graph, opset);
        tensors = new OnnxTensors(path);
        foreach (var t in graph.Initializer) constants[t.Name] = t;
        read = [.. graph.Node.SelectMany(n => n.Input), .. graph.Output.Select(o => o.Name)];
        // Before IR version 4 the initializers were listed among the inputs too.
        var inputs = graph.Input.Where(i => !constants.ContainsKey(i.Name)).ToList();
        if (inputs.Count != 1)
            throw new OnnxImportException($"{path}: the graph has {inputs.Count} inputs ({string.Join(", ", inputs.Select(i => i.Name))}); a dsl network has one, the image or vector");
        current = inputs[0].Name;
        InputShape = InputShapeOf(inputs[0], input);
        shape = InputShape;
        activations[current] = shape;
    }

    Shape InputShapeOf(ValueInfoProto v, Shape? given)
    {
        var tensor = v.Type?.TensorType;
        if (tensor is null || tensor.ElemType != (int)TensorProto.Types.DataType.Float)
            throw new OnnxImportException($"{path}: input {v.Name} is {(tensor is null ? "not a tensor" : OnnxTensors.TypeName(tensor.ElemType))}; dsl networks take float32 images or vectors");
        var dims = tensor.Shape?.Dim.Select(d => d.HasDimValue && d.DimValue > 0 ? d.DimValue : (long?)null).ToList();
        if (dims is null || dims.Count is not (2 or 4))
            throw new OnnxImportException($"{path}: input {v.Name} has {(dims is null ? "no declared shape" : $"{dims.Count} dimensions")}; " +
                                          "dsl imports networks on [batch, C, H, W] images or [batch, N] vectors");
        var perExample = dims.Skip(1).ToList();
        if (given is not null)
        {
            long[] want = given is Shape.Chw g ? [g.c, g.h, g.w] : [given.Elements];
            if (want.Length != perExample.Count || perExample.Zip(want).Any(p => p.First is long d && d != p.Second))
                throw new OnnxImportException($"{path}: --input {given} does not fit input {v.Name}, declared [{Describe(dims)}]");
            return given;
        }
        if (perExample.Any(d => d is null))
            throw new OnnxImportException($"{path}: input {v.Name} is [{Describe(dims)}], its size left open; " +
                                          $"give it with --input {(perExample.Count == 3 ? "CxHxW, e.g. --input 3x224x224" : "N")}");
        return perExample.Count == 3 ? Shape.NewChw((int)perExample[0]!, (int)perExample[1]!, (int)perExample[2]!) : Shape.NewFlat((int)perExample[0]!);
    }

    static string Describe(IEnumerable<long?> dims) => string.Join(", ", dims.Select(d => d?.ToString() ?? "?"));

    public (List<Layer> layers, List<ImportedLine> lines, List<Weights> weights, List<string> notes) Run()
    {
        for (int i = 0; i < graph.Node.Count; i++) Visit(i, graph.Node[i]);
        var outputs = graph.Output.Select(o => o.Name).ToList();
        if (problems.Count == 0 && (outputs.Count != 1 || outputs[0] != current))
            problems.Add($"the graph's output{(outputs.Count == 1 ? " is" : "s are")} {string.Join(", ", outputs)}, not the last node's output {current}: " +
                         "a dsl network has one output, its last layer's");
        if (problems.Count > 0)
            throw new OnnxImportException($"{path}: {problems.Count} of its {graph.Node.Count} nodes have no dsl layer; " +
                                          $"the first is {problems[0].Split(':')[0]}:\n  {string.Join("\n  ", problems)}\nnothing was written");
        if (shape is not Shape.Flat)
            throw new OnnxImportException($"{path}: the graph ends in a {shape} tensor; a dsl network ends in a flat vector of class scores");
        if (layers.Count == 0 || !layers[^1].IsSoftmax)
        {
            notes.Add("the graph ends in class scores; the model file adds softmax, as every dsl network ends in it (compare with softmax of the ONNX output)");
            Emit(Layer.Softmax, "added by dsl import: the ONNX graph ends in scores, a dsl network in softmax");
        }
        notes.AddRange(tensors.Converted.Select(c => $"converted {c} to float32"));
        return (layers, lines, weights, notes);
    }

    void Visit(int index, NodeProto node)
    {
        var where = $"node {index + 1} \"{(node.Name.Length > 0 ? node.Name : node.Output.FirstOrDefault())}\" ({node.OpType})";
        void Refuse(string why) => problems.Add($"{where}: {why}");
        var dynamic = node.Input.Where(activations.ContainsKey).Distinct().ToList();
        var output = node.Output.FirstOrDefault() ?? "";
        if (node.Domain is not ("" or "ai.onnx"))
        {
            Refuse($"an operator of the {node.Domain} domain; dsl reads the standard ONNX operators");
            if (dynamic.Count > 0) Advance(output, null);
            return;
        }
        if (dynamic.Count == 0)
        {
            if (Fold(node) is string why) Refuse(why);
            return;
        }
        if (node.OpType == "Shape")
        {
            if (FoldShape(node, dynamic[0]) is string why) Refuse(why);
            return;
        }
        if (dynamic.Count > 1)
        {
            Refuse($"joins {string.Join(" and ", dynamic)}, a residual connection or a concatenation: a dsl network is a list of layers, " +
                   "each feeding the next, and cannot express one");
            Advance(output, node.OpType is "Add" or "Sum" or "Mul" or "Sub" or "Max" ? activations[dynamic[0]] : null);
            return;
        }
        // One problem per node: past the first, what the node would be is unknown.
        if (dynamic[0] != current)
        {
            Refuse($"reads {dynamic[0]}, an earlier tensor than the node before it wrote ({current}): the graph branches, and a dsl network is a list of layers");
            Advance(output, null);
            return;
        }
        var used = node.Output.Skip(1).Where(o => o.Length > 0 && read.Contains(o)).ToList();
        if (used.Count > 0)
        {
            Refuse($"its extra output {string.Join(", ", used)} is used; dsl layers have one output");
            Advance(output, null);
            return;
        }
        var before = problems.Count;
        // Past a refused node the shape is unknown; the operator can still be judged, so that the refusal lists every one.
        if (shape is null && !Operators.Contains(node.OpType)) Refuse(NoLayer(node.OpType));
        var next = shape is null ? null : Map(node, shape, Refuse);
        // Map gives no shape without saying why only where an input it needs is absent (a damaged file).
        if (shape is not null && next is null && problems.Count == before) Refuse("an input it needs is missing (a damaged file?)");
        Advance(output, problems.Count == before ? next : null);
    }

    void Advance(string output, Shape? next)
    {
        current = output;
        shape = next;
        activations[output] = next;
    }

    void Emit(Layer layer, string comment, Weights? w = null)
    {
        layers.Add(layer);
        weights.Add(w ?? []);
        lines.Add(new ImportedLine(layer, comment));
    }

    void Note(string comment) => lines.Add(new ImportedLine(null, comment));

    static string Source(NodeProto n) => $"ONNX {n.OpType} {(n.Name.Length > 0 ? n.Name : n.Output.FirstOrDefault())}";

    // ---- attributes

    static AttributeProto? Attr(NodeProto n, string name) => n.Attribute.FirstOrDefault(a => a.Name == name);
    static long Int(NodeProto n, string name, long dflt) => Attr(n, name) is { } a ? a.I : dflt;
    /// <summary>A float attribute as the shortest decimal that reads back as the same float32 (1e-5, not 9.99999974738e-06).</summary>
    static double Float(NodeProto n, string name, double dflt) => Attr(n, name) is { } a ? Shortest(a.F) : dflt;
    static double Shortest(float f) => double.Parse(f.ToString("R", System.Globalization.CultureInfo.InvariantCulture), System.Globalization.CultureInfo.InvariantCulture);
    static long[]? Ints(NodeProto n, string name) => Attr(n, name)?.Ints.ToArray();
    static string Text(NodeProto n, string name, string dflt) => Attr(n, name) is { } a ? a.S.ToStringUtf8() : dflt;

    /// <summary>A float tensor a layer takes as a weight, with its dims; a problem when it is computed from the input.</summary>
    (float[] values, long[] dims)? Weight(NodeProto node, int input, Action<string> refuse)
    {
        if (input >= node.Input.Count || node.Input[input].Length == 0) return null;
        var name = node.Input[input];
        if (constants.TryGetValue(name, out var t)) return (tensors.Floats(t), t.Dims.ToArray());
        refuse(activations.ContainsKey(name) ? $"its weight {name} is computed from the input; dsl weights are constants"
                                              : $"reads {name}, which the file does not define (a truncated file?)");
        return null;
    }
}
