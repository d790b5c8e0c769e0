using Onnx;
using static Onnx.TensorProto.Types;

namespace Dsl.Runtime;

/// <summary>Constant folding: nodes whose inputs are all constants, and Shape of an activation, whose size is fixed here.
/// This is the shape arithmetic exporters leave in front of a Reshape (<c>x.view(x.size(0), -1)</c> becomes Shape,
/// Gather, Unsqueeze, Concat); the batch dimension stays symbolic (<see cref="Batch"/>).</summary>
internal sealed partial class OnnxGraphWalk
{
    /// <summary>Folds a node with constant inputs; returns why it cannot (null when it did).</summary>
    string? Fold(NodeProto node)
    {
        foreach (var name in node.Input.Where(n => n.Length > 0))
            if (!constants.ContainsKey(name) && !ints.ContainsKey(name))
                return $"reads {name}, which the file does not define (a truncated file?)";
        var output = node.Output.FirstOrDefault() ?? "";
        switch (node.OpType)
        {
            case "Constant":
            {
                var a = node.Attribute.FirstOrDefault();
                TensorProto? t = a?.Name switch
                {
                    "value" => a.T,
                    "value_float" => Tensor(DataType.Float, t => t.FloatData.Add(a.F), scalar: true),
                    "value_floats" => Tensor(DataType.Float, t => t.FloatData.AddRange(a.Floats), scalar: false),
                    "value_int" => Tensor(DataType.Int64, t => t.Int64Data.Add(a.I), scalar: true),
                    "value_ints" => Tensor(DataType.Int64, t => t.Int64Data.AddRange(a.Ints), scalar: false),
                    _ => null,
                };
                if (t is null) return $"a constant of a kind dsl does not read ({a?.Name ?? "no value"})";
                t = t.Clone();
                t.Name = output;
                if (OnnxTensors.IsInteger(t.DataType)) ints[output] = (tensors.Longs(t), t.Dims.Count == 0);
                else constants[output] = t;
                return null;
            }
            case "Identity":
                if (ints.TryGetValue(node.Input[0], out var same)) ints[output] = same;
                else constants[output] = constants[node.Input[0]];
                return null;
        }
        // The rest is integer arithmetic on shapes.
        var args = new List<(long[] values, bool scalar)>();
        foreach (var name in node.Input.Where(n => n.Length > 0))
        {
            if (IntValues(name) is { } v) args.Add(v);
            else return $"{node.OpType} of constant float tensors; dsl folds only the integer shape arithmetic in front of a Reshape";
        }
        (long[] values, bool scalar)? result = node.OpType switch
        {
            "Cast" => args[0],
            "Gather" when Int(node, "axis", 0) == 0 && !args[0].scalar =>
                args[1].values.All(i => i >= -args[0].values.Length && i < args[0].values.Length)
                    ? (args[1].values.Select(i => args[0].values[i < 0 ? i + args[0].values.Length : i]).ToArray(), args[1].scalar)
                    : null,
            "Unsqueeze" when args[0].scalar => (args[0].values, false),
            "Squeeze" when !args[0].scalar && args[0].values.Length == 1 => (args[0].values, true),
            "Concat" when args.All(a => !a.scalar) => (args.SelectMany(a => a.values).ToArray(), false),
            _ => null,
        };
        if (result is null) return $"shape arithmetic dsl does not fold ({node.OpType} on [{string.Join(", ", args.Select(a => string.Join(" ", a.values.Select(Dim))))}])";
        ints[output] = result.Value;
        return null;
    }

    string? FoldShape(NodeProto node, string input)
    {
        if (activations[input] is not { } s) return "the shape of a tensor a refused node wrote";
        long[] dims = s is Dsl.Core.Shape.Chw c ? [Batch, c.c, c.h, c.w] : [Batch, s.Elements];
        // Opset 15 lets Shape take a slice of the dimensions.
        long Clamp(long i) => Math.Clamp(i < 0 ? i + dims.Length : i, 0, dims.Length);
        long start = Clamp(Int(node, "start", 0)), end = Clamp(Int(node, "end", dims.Length));
        ints[node.Output[0]] = (dims[(int)start..(int)Math.Max(start, end)], false);
        return null;
    }

    (long[] values, bool scalar)? IntValues(string name)
    {
        if (ints.TryGetValue(name, out var v)) return v;
        if (constants.TryGetValue(name, out var t) && OnnxTensors.IsInteger(t.DataType)) return ints[name] = (tensors.Longs(t), t.Dims.Count == 0);
        return null;
    }

    static string Dim(long d) => d == Batch ? "batch" : d.ToString();

    static TensorProto Tensor(DataType type, Action<TensorProto> fill, bool scalar)
    {
        var t = new TensorProto { DataType = (int)type };
        fill(t);
        if (!scalar) t.Dims.Add(t.FloatData.Count + t.Int64Data.Count);
        return t;
    }
}
