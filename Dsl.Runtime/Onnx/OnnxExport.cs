using Dsl.Compiler;
using Dsl.Core;
using Google.Protobuf;
using Onnx;
using static Dsl.Runtime.OnnxGraph;

namespace Dsl.Runtime;

/// <summary>A trained network as an ONNX model (opset 13) for inference: input "input" [batch, C, H, W] (or [batch, N] for a
/// flat input), already normalised as the run's data pipeline does; output "probabilities" [batch, classes].
/// Every layer becomes the ONNX operator of the same meaning; dropout, the identity at inference, is left out.</summary>
public static class OnnxExport
{
    public const int Opset = 13;
    /// <summary>ONNX 1.8's IR version, the release that introduced opset 13: the oldest runtime that can read the file.</summary>
    const long IrVersion = 7;
    public const string Input = "input";
    public const string Output = "probabilities";

    /// <summary>Writes the model to a temporary file beside <paramref name="path"/> and renames it, so a failed export
    /// never leaves half a file.</summary>
    public static void Save(string path, Shapes.Inferred network, IReadOnlyDictionary<string, float[]> weights,
        IReadOnlyDictionary<string, string>? metadata = null) =>
        Dsl.Runtime.Output.AtomicFile.WriteBytes(path, ToBytes(network, weights, metadata));

    public static byte[] ToBytes(Shapes.Inferred network, IReadOnlyDictionary<string, float[]> weights,
        IReadOnlyDictionary<string, string>? metadata = null) => Build(network, weights, metadata).ToByteArray();

    /// <summary>The model; <paramref name="weights"/> are named as the weights file names them (conv1.weight...).
    /// A missing or wrongly sized tensor is a <see cref="DataException"/>: the file belongs to another network.
    /// <paramref name="metadata"/> (the weights file's: network, and whatever the run recorded, such as the input
    /// normalisation) goes into the model's metadata_props, where a consumer of the file can find it.</summary>
    internal static ModelProto Build(Shapes.Inferred network, IReadOnlyDictionary<string, float[]> weights,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        var layers = network.Layers.ToList();
        if (layers.Count == 0 || !layers[^1].Node.Layer.IsSoftmax)
            throw new DataException($"network {network.Network.Name} does not end in softmax; the ONNX export's output is the class probabilities");
        var g = new OnnxGraph(network.Network.Name);
        var exporter = new LayerExporter(g, weights);
        var x = Input;
        for (int i = 0; i < layers.Count; i++)
        {
            var l = layers[i];
            var y = i == layers.Count - 1 ? Output : l.Node.Name;
            x = exporter.Add(l, x, y);
            // Declared shapes let the checker's shape inference confirm each layer's size as ONNX computes it.
            if (x == y && y != Output) g.Graph.ValueInfo.Add(Value(y, Dims(l.Output)));
        }
        g.Graph.Input.Add(Value(Input, Dims(network.Network.Input)));
        g.Graph.Output.Add(Value(Output, Dims(layers[^1].Output)));
        var model = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = "dsl",
            ProducerVersion = typeof(OnnxExport).Assembly.GetName().Version?.ToString() ?? "",
            DocString = $"{network.Network.Name}: input {network.Network.Input} per image, scaled and normalised as the training run's " +
                        "data pipeline does (the normalisation is not part of the graph); output the class probabilities.",
            Graph = g.Graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        foreach (var (key, value) in metadata ?? new Dictionary<string, string>())
            model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        return model;
    }

    internal static long[] Dims(Shape s) => s switch
    {
        Shape.Chw c => [c.c, c.h, c.w],
        Shape.Flat f => [f.Item],
        _ => throw new ArgumentOutOfRangeException(nameof(s)),
    };

    /// <summary>Adds one layer's nodes and initializers; returns the name of the tensor it leaves for the next layer.</summary>
    sealed class LayerExporter(OnnxGraph g, IReadOnlyDictionary<string, float[]> weights)
    {
        public string Add(Shapes.LayerInfo l, string x, string y)
        {
            var name = l.Node.Name;
            switch (l.Node.Layer)
            {
                case Layer.Conv { Item: var c }:
                {
                    var (ci, h, w) = Chw(l.Input);
                    var (_, ho, wo) = Chw(l.Output);
                    var (kh, kw) = (c.Kernel.Item1, c.Kernel.Item2);
                    var inputs = new List<string> { x, Param(name, "weight", [c.Filters, ci / c.Groups, kh, kw]) };
                    if (c.Bias) inputs.Add(Param(name, "bias", [c.Filters]));
                    var (ph, pw) = (c.Pad.Item1, c.Pad.Item2);
                    var (sh, sw) = (c.Stride.Item1, c.Stride.Item2);
                    // Zero padding at the end where `ceil` rounding reaches past the input: the runtime reads zeros there too.
                    g.Node("Conv", name, inputs, y, Ints("kernel_shape", kh, kw), Ints("strides", sh, sw), Int("group", c.Groups),
                        Ints("pads", ph, pw, EndPad(name, h, ho, kh, sh, ph), EndPad(name, w, wo, kw, sw, pw)));
                    return y;
                }
                case Layer.Pool { Item: var p }:
                    return Pool(name, p, l, x, y);
                case Layer.Lrn { Item: var n }:
                    // ONNX LRN is Caffe's: x / (bias + alpha / size * sum)^beta. Ours does not divide alpha by the size
                    // (the AlexNet paper's form), so ONNX's alpha is ours times the size. Sizes are odd, so the windows agree.
                    g.Node("LRN", name, [x], y, Int("size", n.Size), Float("alpha", n.Alpha * n.Size), Float("beta", n.Beta), Float("bias", n.K));
                    return y;
                case Layer.Dense { Item: var d }:
                {
                    var inputs = new List<string> { x, Param(name, "weight", [d.Units, l.Input.Elements]) };
                    if (d.Bias) inputs.Add(Param(name, "bias", [d.Units]));
                    // Our dense weight is [out, in] row-major, so y = x W^T + b.
                    g.Node("Gemm", name, inputs, y, Int("transB", 1));
                    return y;
                }
                case Layer.BatchNorm { Item: var b }:
                {
                    long c = l.Input is Shape.Chw chw ? chw.c : l.Input.Elements;
                    string[] inputs = [x, Param(name, "gamma", [c]), Param(name, "beta", [c]), Param(name, "running_mean", [c]), Param(name, "running_var", [c])];
                    // Inference uses the running statistics; momentum only matters while training.
                    g.Node("BatchNormalization", name, inputs, y, Float("epsilon", b.Eps));
                    return y;
                }
                case Layer.Act { Item: var a }:
                    if (a is Activation.LeakyRelu { slope: var slope }) g.Node("LeakyRelu", name, [x], y, Float("alpha", slope));
                    else g.Node(a.IsRelu ? "Relu" : a.IsTanh ? "Tanh" : "Sigmoid", name, [x], y);
                    return y;
                case Layer.Dropout:
                    return x;
                case { IsFlatten: true }:
                    g.Node("Flatten", name, [x], y, Int("axis", 1));
                    return y;
                case { IsSoftmax: true }:
                    g.Node("Softmax", name, [x], y, Int("axis", 1));
                    return y;
                default:
                    throw new ArgumentOutOfRangeException(nameof(l), $"no ONNX export for {LayerModule.keyword(l.Node.Layer)}");
            }
        }

        /// <summary>Pools never use ONNX's ceil_mode: the divisor of an average over a window that `ceil` lets reach past the
        /// padded input is left open by opset 13's spec and differs between runtimes. Explicit end padding gives the same
        /// windows with floor rounding and one meaning everywhere.</summary>
        string Pool(string name, PoolSpec p, Shapes.LayerInfo l, string x, string y)
        {
            var (c, h, w) = Chw(l.Input);
            var (_, ho, wo) = Chw(l.Output);
            var (kh, kw) = (p.Size.Item1, p.Size.Item2);
            var (sh, sw) = (p.Stride.Item1, p.Stride.Item2);
            var (ph, pw) = (p.Pad.Item1, p.Pad.Item2);
            var (eh, ew) = (EndPad(name, h, ho, kh, sh, ph), EndPad(name, w, wo, kw, sw, pw));
            var window = new[] { Ints("kernel_shape", kh, kw), Ints("strides", sh, sw) };
            if (p.Kind.IsMaxPool)
            {
                // Max pooling ignores padding in both: our kernel skips positions outside the input.
                g.Node("MaxPool", name, [x], y, [.. window, Ints("pads", ph, pw, eh, ew)]);
                return y;
            }
            // We divide by the window positions inside the zero-padded input (PyTorch's count_include_pad).
            if (eh <= ph && ew <= pw)
            {
                // Every window lies inside the padded input: count_include_pad=1 divides by the same count.
                g.Node("AveragePool", name, [x], y, [.. window, Ints("pads", ph, pw, eh, ew), Int("count_include_pad", 1)]);
                return y;
            }
            // The last windows reach past the padding: pad with real zeros, which are counted, then let the pool's own
            // end padding, which count_include_pad=0 does not count, cover the rest.
            var padded = x;
            if (ph > 0 || pw > 0)
            {
                padded = name + ".pad";
                g.Initializer(padded + ".pads", [8], [0, 0, ph, pw, 0, 0, ph, pw]);
                g.Node("Pad", padded, [x, padded + ".pads"], padded);
                g.Graph.ValueInfo.Add(Value(padded, [c, h + 2L * ph, w + 2L * pw]));
            }
            g.Node("AveragePool", name, [padded], y, [.. window, Ints("pads", 0, 0, eh - ph, ew - pw), Int("count_include_pad", 0)]);
            return y;
        }

        /// <summary>Padding after the input along one axis so that ONNX's floor rounding gives our output size: the padding
        /// itself where that suffices (what other tools write), else exactly as far as the last window reaches.</summary>
        static long EndPad(string layer, int input, int output, int kernel, int stride, int pad)
        {
            static long Floor(long input, long begin, long end, int kernel, int stride) => (input + begin + end - kernel) / stride + 1;
            long end = Floor(input, pad, pad, kernel, stride) == output ? pad : Math.Max(0, (output - 1L) * stride + kernel - input - pad);
            if (Floor(input, pad, end, kernel, stride) != output)
                throw new DataException($"{layer}: its output size {output} cannot be expressed with ONNX padding (input {input}, kernel {kernel}, stride {stride}, pad {pad})");
            return end;
        }

        /// <summary>Adds a weights-file tensor as an initializer with its ONNX shape; returns its name.</summary>
        string Param(string layer, string role, long[] dims)
        {
            var tensor = $"{layer}.{role}";
            if (!weights.TryGetValue(tensor, out var values))
                throw new DataException($"the weights have no tensor {tensor}: they belong to another network");
            long expected = dims.Aggregate(1L, (a, b) => a * b);
            if (values.Length != expected)
                throw new DataException($"the weights' {tensor} holds {values.Length} values and the network's {expected}: they belong to another network");
            g.Initializer(tensor, dims, values);
            return tensor;
        }

        static (int c, int h, int w) Chw(Shape s) =>
            s is Shape.Chw c ? (c.c, c.h, c.w) : throw new ArgumentException($"expected a CxHxW shape, got {s}");
    }
}
