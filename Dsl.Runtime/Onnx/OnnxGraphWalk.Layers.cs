using Dsl.Core;
using Microsoft.FSharp.Core;
using Onnx;
using Weights = System.Collections.Generic.Dictionary<string, (float[] values, long[] dims)>;

namespace Dsl.Runtime;

/// <summary>Each ONNX operator on the activation as the language's layer, with its weights in the language's layout.
/// Options the language lacks (dilation, non-square windows, a padding no rounding gives) are problems, not guesses.</summary>
internal sealed partial class OnnxGraphWalk
{
    /// <summary>The shape after <paramref name="node"/>; null after a problem (reported through <paramref name="refuse"/>).</summary>
    Shape? Map(NodeProto node, Shape input, Action<string> refuse)
    {
        var source = Source(node);
        switch (node.OpType)
        {
            case "Conv": return Conv(node, input, refuse);
            case "MaxPool": return Pool(node, PoolKind.MaxPool, input, refuse);
            case "AveragePool": return Pool(node, PoolKind.AvgPool, input, refuse);
            case "GlobalAveragePool" or "GlobalMaxPool":
            {
                if (input is not Shape.Chw c) { refuse("pools a flat vector"); return null; }
                if (c.h == 1 && c.w == 1)
                {
                    Note($"{source}: a global pool over 1x1, the identity at this input size; left out");
                    return input;
                }
                if (c.h != c.w) { refuse($"a global pool over {c.h}x{c.w}; dsl pools have square windows"); return null; }
                var kind = node.OpType == "GlobalMaxPool" ? PoolKind.MaxPool : PoolKind.AvgPool;
                Emit(Layer.NewPool(new PoolSpec(kind, (c.h, c.h).ToTuple(), (c.h, c.h).ToTuple(), (0, 0).ToTuple(), Rounding.Floor)), $"{source} over {c.h}x{c.w}");
                return Shape.NewChw(c.c, 1, 1);
            }
            case "Relu": Emit(Layer.NewAct(Activation.Relu), source); return input;
            case "Sigmoid": Emit(Layer.NewAct(Activation.Sigmoid), source); return input;
            case "Tanh": Emit(Layer.NewAct(Activation.Tanh), source); return input;
            case "LeakyRelu": Emit(Layer.NewAct(Activation.NewLeakyRelu(Float(node, "alpha", 0.01))), source); return input;
            case "LRN":
            {
                if (input is not Shape.Chw) { refuse("LRN of a flat vector; dsl's lrn works across channels of an image"); return null; }
                var size = (int)Int(node, "size", 0);
                if (size < 1 || size % 2 == 0) { refuse($"LRN size {size}; dsl's lrn window is centred on each channel, so its size is odd"); return null; }
                // ONNX divides alpha by the size (Caffe's and PyTorch's form); the language does not (the AlexNet paper's).
                Emit(Layer.NewLrn(new LrnSpec(size, Float(node, "alpha", 1e-4) / size, Float(node, "beta", 0.75), Float(node, "bias", 1.0))), source);
                return input;
            }
            case "BatchNormalization": return BatchNorm(node, input, refuse);
            case "Gemm": return Gemm(node, input, refuse);
            case "MatMul": return MatMul(node, input, refuse);
            case "Add": return Bias(node, input, refuse);
            case "Flatten":
            {
                var axis = Int(node, "axis", 1);
                int rank = input is Shape.Chw ? 4 : 2;
                if (axis != 1 && axis != 1 - rank) { refuse($"Flatten at axis {axis}; only flattening each example (axis 1) has a layer"); return null; }
                return Flatten(input, source);
            }
            case "Reshape": return Reshape(node, input, refuse);
            case "Dropout":
            {
                // Before opset 12 the rate is an attribute; since, an optional input.
                double rate = opset < 12 ? Float(node, "ratio", 0.5)
                    : node.Input.Count > 1 && node.Input[1].Length > 0 && constants.TryGetValue(node.Input[1], out var r) ? Shortest(tensors.Floats(r).Single()) : 0.5;
                if (rate is < 0 or >= 1) { refuse($"dropout rate {rate}; the language takes a rate in [0, 1)"); return null; }
                Emit(Layer.NewDropout(rate), source);
                return input;
            }
            case "Softmax":
            {
                var axis = Int(node, "axis", opset < 13 ? 1 : -1);
                if (input is not Shape.Flat || axis is not (1 or -1)) { refuse($"softmax over axis {axis} of a {input} tensor; dsl's softmax is over the classes of a flat vector"); return null; }
                if (!graph.Output.Any(o => o.Name == node.Output[0])) { refuse("softmax before the end; dsl's softmax is the last layer"); return null; }
                Emit(Layer.Softmax, source);
                return input;
            }
            case "Identity":
                return input;
            case "Pad": return Pad(node, input, refuse);
            default:
                refuse(NoLayer(node.OpType));
                return null;
        }
    }

    /// <summary>The operators <see cref="Map"/> reads, given the options the language has.</summary>
    static readonly HashSet<string> Operators =
    [
        "Conv", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "Relu", "Sigmoid", "Tanh", "LeakyRelu", "LRN",
        "BatchNormalization", "Gemm", "MatMul", "Add", "Flatten", "Reshape", "Dropout", "Softmax", "Identity", "Pad",
    ];

    static string NoLayer(string op) => $"dsl has no layer for {op} (it reads {string.Join(", ", Operators)})";

    Shape Flatten(Shape input, string source)
    {
        if (input is Shape.Flat) { Note($"{source}: the input is flat already; left out"); return input; }
        Emit(Layer.Flatten, source);
        return Shape.NewFlat(input.Elements);
    }

    Shape? Reshape(NodeProto node, Shape input, Action<string> refuse)
    {
        if (node.Input.Count < 2 || IntValues(node.Input[1]) is not { } target)
        {
            refuse("its target shape is computed from something other than the input's size; dsl folds only shape arithmetic");
            return null;
        }
        long elements = input.Elements;
        var t = target.values;
        bool allowZero = Int(node, "allowzero", 0) != 0;
        bool batchFirst = t.Length > 0 && (t[0] == Batch || (t[0] == 0 && !allowZero) || (t[0] == -1 && t.Length == 2 && t[1] == elements) || t[0] >= 1);
        if (t.Length == 2 && batchFirst && (t[1] == elements || (t[1] == -1 && t[0] != -1)))
            return Flatten(input, Source(node));
        refuse($"reshapes a {input} tensor to [{string.Join(", ", t.Select(Dim))}]; only reshaping each example to a flat vector has a layer (flatten)");
        return null;
    }

    /// <summary>Padding the ONNX way: explicit begin and end per axis, or auto_pad (SAME pads the output to ceil(input / stride)).</summary>
    (long begin, long end)[]? Pads(NodeProto node, long[] input, long[] kernel, long[] stride, Action<string> refuse)
    {
        var auto = Text(node, "auto_pad", "NOTSET");
        int n = input.Length;
        switch (auto)
        {
            case "NOTSET":
                var p = Ints(node, "pads") ?? new long[2 * n];
                if (p.Length != 2 * n) { refuse($"pads [{string.Join(", ", p)}] for {n} axes"); return null; }
                return Enumerable.Range(0, n).Select(i => (p[i], p[i + n])).ToArray();
            case "VALID":
                return new (long, long)[n];
            case "SAME_UPPER" or "SAME_LOWER":
                return Enumerable.Range(0, n).Select(i =>
                {
                    long total = Math.Max(0, ((input[i] + stride[i] - 1) / stride[i] - 1) * stride[i] + kernel[i] - input[i]);
                    long small = total / 2;
                    return auto == "SAME_UPPER" ? (small, total - small) : (total - small, small);
                }).ToArray();
            default:
                refuse($"auto_pad {auto}");
                return null;
        }
    }

    /// <summary>The window the language can say: square, dilation 1, the same padding and rounding on both axes.</summary>
    (int kernel, int stride, int pad, FSharpOption<Rounding>? rounding, int ho, int wo)? Window(
        NodeProto node, Shape.Chw input, long[]? kernelOrNull, bool pool, bool ceil, Action<string> refuse, long zeroPad = 0)
    {
        if (kernelOrNull is not { Length: 2 } kernel) { refuse($"a window over {kernelOrNull?.Length ?? 0} axes; dsl's conv and pools work on images (2 axes)"); return null; }
        var stride = Ints(node, "strides") ?? [1, 1];
        var dilations = Ints(node, "dilations") ?? [1, 1];
        if (dilations.Any(d => d != 1)) { refuse($"dilations [{string.Join(", ", dilations)}]; dsl's windows have dilation 1"); return null; }
        long[] size = [input.h, input.w];
        if (Pads(node, size, kernel, stride, refuse) is not { } nodePads) return null;
        // A Pad node before the pool: its zeros are padding on both sides of the input.
        var pads = nodePads.Select(p => (begin: p.begin + zeroPad, end: p.end + zeroPad)).ToArray();
        if (kernel[0] != kernel[1] || stride[0] != stride[1] || pads[0].begin != pads[1].begin)
        {
            refuse($"window {kernel[0]}x{kernel[1]}, stride {stride[0]}x{stride[1]}, padding before {pads[0].begin}x{pads[1].begin}; dsl's are square");
            return null;
        }
        var (rh, whyH) = OnnxWindows.Rounding(input.h, kernel[0], stride[0], pads[0].begin, pads[0].end, ceil, pool);
        var (rw, whyW) = OnnxWindows.Rounding(input.w, kernel[1], stride[1], pads[1].begin, pads[1].end, ceil, pool);
        if ((whyH ?? whyW) is string why) { refuse(why); return null; }
        if (!Equals(rh, rw)) { refuse("its height and width round differently; a dsl layer rounds both the same way"); return null; }
        int Out(int axis) => (int)OnnxWindows.Output(size[axis], kernel[axis], stride[axis], pads[axis].begin, pads[axis].end, ceil);
        return ((int)kernel[0], (int)stride[0], (int)pads[0].begin, rh, Out(0), Out(1));
    }

    Shape? Conv(NodeProto node, Shape input, Action<string> refuse)
    {
        if (input is not Shape.Chw c) { refuse("a convolution of a flat vector"); return null; }
        if (Weight(node, 1, refuse) is not { } w) return null;
        var bias = Weight(node, 2, refuse);
        if (w.dims.Length != 4) { refuse($"weight of shape [{string.Join(", ", w.dims)}]; dsl's conv is 2-D"); return null; }
        var groups = Int(node, "group", 1);
        if (w.dims[1] * groups != c.c) { refuse($"weight [{string.Join(", ", w.dims)}] in {groups} group(s) does not take {c.c} channels"); return null; }
        if (Window(node, c, Ints(node, "kernel_shape") ?? w.dims[2..], pool: false, ceil: false, refuse) is not { } win) return null;
        if (win.kernel != w.dims[2]) { refuse($"kernel_shape {win.kernel} and weight [{string.Join(", ", w.dims)}] disagree"); return null; }
        int filters = (int)w.dims[0];
        var spec = new ConvSpec(filters, (win.kernel, win.kernel).ToTuple(), (win.stride, win.stride).ToTuple(), (win.pad, win.pad).ToTuple(),
            (int)groups, bias is not null, win.rounding);
        var ws = new Weights { ["weight"] = w };
        if (bias is { } b)
        {
            if (b.values.Length != filters) { refuse($"bias of {b.values.Length} values for {filters} filters"); return null; }
            ws["bias"] = (b.values, [filters]);
        }
        Emit(Layer.NewConv(spec), Source(node), ws);
        return Shape.NewChw(filters, win.ho, win.wo);
    }

    Shape? Pool(NodeProto node, PoolKind kind, Shape input, Action<string> refuse)
    {
        if (input is not Shape.Chw c) { refuse("pools a flat vector"); return null; }
        bool ceil = Int(node, "ceil_mode", 0) != 0;
        var padded = zeroPadded;
        zeroPadded = null;
        if (padded is { } z)
        {
            if ((Ints(node, "pads") ?? [0, 0, 0, 0]).Take(2).Any(p => p != 0)) { refuse("pads before its input after a Pad's zeros; dsl pads both sides alike"); return null; }
            c = z.input;
        }
        if (Window(node, c, Ints(node, "kernel_shape"), pool: true, ceil, refuse, padded?.pad ?? 0) is not { } win) return null;
        var source = Source(node);
        if (padded is not null) source = $"{padded.Value.source} + {source[5..]}";
        if (win.kernel == 1 && win.stride == 1 && win.ho == c.h && win.wo == c.w)
        {
            // What an adaptive pool to the size it is given exports as (torchvision's AlexNet and VGG at 224x224).
            Note($"{source}: a 1x1 window with stride 1, the identity at this input size; left out");
            return input;
        }
        if (win.pad > win.kernel / 2) { refuse($"padding {win.pad} is more than half its window {win.kernel}; a dsl pool's window must overlap the input"); return null; }
        if (kind == PoolKind.AvgPool && padded is null)
        {
            // The language divides by the window's positions inside the input padded by `pad` on both sides. ONNX with
            // count_include_pad=1 counts the padding at the end as well: the same where no window reaches into it. With
            // count_include_pad=0 it counts the input alone: the same where there is no padding before it, unless
            // ceil_mode lets windows past the end, where opset 13 leaves the divisor open and runtimes differ.
            long reach = (Math.Max(win.ho, win.wo) - 1L) * win.stride - win.pad + win.kernel;
            bool pastPadding = reach > Math.Min(c.h, c.w) + win.pad;
            bool counted = Int(node, "count_include_pad", 0) != 0;
            if (counted && pastPadding)
            {
                refuse("its last window reaches into the end padding, which its divisor counts and dsl's avgpool does not");
                return null;
            }
            if (!counted && win.pad > 0)
            {
                refuse("an average that leaves the padding out of the divisor (count_include_pad=0); dsl's avgpool counts it, as PyTorch's default does");
                return null;
            }
            if (ceil && pastPadding)
            {
                refuse("ceil_mode lets its last window past the input, where runtimes differ on what to divide by; dsl cannot say which this file means");
                return null;
            }
        }
        var rounding = win.rounding?.Value ?? Rounding.Floor;
        Emit(Layer.NewPool(new PoolSpec(kind, (win.kernel, win.kernel).ToTuple(), (win.stride, win.stride).ToTuple(), (win.pad, win.pad).ToTuple(), rounding)), source);
        return Shape.NewChw(c.c, win.ho, win.wo);
    }

    /// <summary>Zeros around each image, read by an average pool that leaves its own padding out of the divisor: together
    /// the language's `avgpool ... pad P`, which divides by the positions inside the zero-padded input. `dsl export`
    /// writes an `avgpool ... ceil` whose last windows reach past its padding this way.</summary>
    Shape? Pad(NodeProto node, Shape input, Action<string> refuse)
    {
        const string why = "a Pad has a layer only as the zero padding of the average pool right after it (what dsl export writes)";
        var reader = graph.Node.Where(n => n.Input.Contains(node.Output[0])).ToList();
        var pads = opset < 11 ? Ints(node, "pads") : node.Input.Count > 1 ? IntValues(node.Input[1])?.values : null;
        float value = opset < 11 ? (float)Float(node, "value", 0)
            : node.Input.Count > 2 && node.Input[2].Length > 0 && constants.TryGetValue(node.Input[2], out var v) ? tensors.Floats(v).Single() : 0;
        if (input is not Shape.Chw c || Text(node, "mode", "constant") != "constant" || value != 0 || pads is not { Length: 8 }
            || reader.Count != 1 || reader[0].OpType != "AveragePool" || Int(reader[0], "count_include_pad", 0) != 0
            || pads.Where((_, i) => i % 4 < 2).Any(p => p != 0) || pads.Where((_, i) => i % 4 >= 2).Distinct().Count() != 1)
        {
            refuse(why);
            return null;
        }
        zeroPadded = ((int)pads[2], c, Source(node));
        return Shape.NewChw(c.c, c.h + 2 * (int)pads[2], c.w + 2 * (int)pads[2]);
    }

    Shape? BatchNorm(NodeProto node, Shape input, Action<string> refuse)
    {
        if (Int(node, "training_mode", 0) != 0) { refuse("batch norm in training mode; export the network in evaluation mode"); return null; }
        if (opset < 9 && Int(node, "spatial", 1) != 1) { refuse("batch norm with spatial=0 (statistics per position); dsl's are per channel"); return null; }
        var channels = input is Shape.Chw c ? c.c : input.Elements;
        string[] roles = ["gamma", "beta", "running_mean", "running_var"];
        var ws = new Weights();
        for (int i = 0; i < roles.Length; i++)
        {
            if (Weight(node, i + 1, refuse) is not { } t) { if (i + 1 >= node.Input.Count) refuse($"no {roles[i]} input"); return null; }
            if (t.values.Length != channels) { refuse($"its {roles[i]} has {t.values.Length} values for {channels} channels"); return null; }
            ws[roles[i]] = (t.values, [channels]);
        }
        // ONNX's momentum weighs the old running statistics; the language's (PyTorch's) weighs the new batch.
        var momentum = Math.Round(1 - Float(node, "momentum", 0.9), 6);
        Emit(Layer.NewBatchNorm(new BatchNormSpec(Float(node, "epsilon", 1e-5), momentum)), Source(node), ws);
        return input;
    }

    Shape? Gemm(NodeProto node, Shape input, Action<string> refuse)
    {
        if (input is not Shape.Flat) { refuse($"Gemm of a {input} tensor; it needs flatten before it"); return null; }
        if (Int(node, "transA", 0) != 0) { refuse("transA=1: the input transposed, which a dense layer does not do"); return null; }
        if (Weight(node, 1, refuse) is not { } b) return null;
        var c = Weight(node, 2, refuse);
        if (b.dims.Length != 2) { refuse($"B of shape [{string.Join(", ", b.dims)}]"); return null; }
        bool transB = Int(node, "transB", 0) != 0;
        var (alpha, beta) = (Float(node, "alpha", 1), Float(node, "beta", 1));
        return Dense(node, input, transB ? b.values : Transpose(b.values, b.dims[0], b.dims[1]), transB ? b.dims : [b.dims[1], b.dims[0]],
            alpha, c is { } cv ? (cv.values, beta) : null, refuse);
    }

    Shape? MatMul(NodeProto node, Shape input, Action<string> refuse)
    {
        if (input is not Shape.Flat) { refuse($"MatMul of a {input} tensor; it needs flatten before it"); return null; }
        if (node.Input[0] != current) { refuse("multiplies a constant by the input, not the input by a constant"); return null; }
        if (Weight(node, 1, refuse) is not { } b) return null;
        if (b.dims.Length != 2) { refuse($"B of shape [{string.Join(", ", b.dims)}]"); return null; }
        var next = Dense(node, input, Transpose(b.values, b.dims[0], b.dims[1]), [b.dims[1], b.dims[0]], 1, null, refuse);
        if (next is not null) openMatMul = (layers.Count - 1, node.Output[0]);
        return next;
    }

    /// <summary>An Add of a constant straight after a MatMul: the dense layer's bias. Any other Add has no layer.</summary>
    Shape? Bias(NodeProto node, Shape input, Action<string> refuse)
    {
        var constant = node.Input.FirstOrDefault(i => i != current);
        if (openMatMul is not { } m || m.output != current || m.layer != layers.Count - 1 || constant is null || !constants.ContainsKey(constant))
        {
            refuse("adds a constant to the activation; dsl has a layer for it only as the bias of the MatMul just before it");
            return null;
        }
        var dense = ((Layer.Dense)layers[^1]).Item;
        if (Weight(node, Array.IndexOf(node.Input.ToArray(), constant), refuse) is not { } bias) return null;
        if (bias.values.Length != dense.Units) { refuse($"adds {bias.values.Length} values to {dense.Units} units; a bias has one per unit"); return null; }
        layers[^1] = Layer.NewDense(new DenseSpec(dense.Units, true));
        weights[^1]["bias"] = (bias.values, [dense.Units]);
        lines[^1] = new ImportedLine(layers[^1], $"{lines[^1].Comment} + {Source(node)[5..]} (its bias)");
        openMatMul = null;
        return input;
    }

    /// <summary>A dense layer of weight [out, in] (times <paramref name="alpha"/>) and a bias broadcast from <paramref name="bias"/>.</summary>
    Shape? Dense(NodeProto node, Shape input, float[] w, long[] dims, double alpha, (float[] values, double beta)? bias, Action<string> refuse)
    {
        var (units, inputs) = ((int)dims[0], dims[1]);
        if (inputs != input.Elements) { refuse($"weight for {inputs} inputs, given {input.Elements}"); return null; }
        if (alpha != 1) w = w.Select(v => (float)(v * alpha)).ToArray();
        var ws = new Weights { ["weight"] = (w, dims) };
        if (bias is var (values, beta))
        {
            if (values.Length != units && values.Length != 1) { refuse($"bias of {values.Length} values for {units} units"); return null; }
            ws["bias"] = (Enumerable.Range(0, units).Select(j => (float)(values[values.Length == 1 ? 0 : j] * beta)).ToArray(), [units]);
        }
        Emit(Layer.NewDense(new DenseSpec(units, bias is not null)), Source(node), ws);
        return Shape.NewFlat(units);
    }

    static float[] Transpose(float[] values, long rows, long cols)
    {
        var t = new float[values.Length];
        for (long r = 0; r < rows; r++)
            for (long c = 0; c < cols; c++)
                t[c * rows + r] = values[r * cols + c];
        return t;
    }
}
