using Dsl.Core;
using Microsoft.FSharp.Core;
using static Dsl.Runtime.Checks.CaseBuilder;

namespace Dsl.Runtime.Checks;

/// <summary>The catalogue of kernel checks: every kernel kind, forward and backward, on fixed shapes chosen for their
/// edge cases (odd sizes, stride above 1, groups, padding, ceil pooling) and on shapes drawn from a seed.</summary>
public static class KernelCases
{
    /// <summary>Relative error allowed for float32 results. Every kernel kind meets it, the GEMMs included although
    /// they sum in another order than the CPU device's blocked GEMM (measured: at most 4e-6); a kind that cannot
    /// would carry its own tolerance here, with the reason.</summary>
    public const double Float32 = 1e-4;
    /// <summary>Kernels whose products run on TF32 tensor cores (inputs keep 10 of 23 mantissa bits): about six times
    /// TF32's unit roundoff, normwise; a whole training step compounds it through the layers.</summary>
    public const double Tf32 = 3e-3;
    public const double Tf32Step = 2e-2;

    public static IReadOnlyList<KernelCase> All(int seed = 1)
    {
        var rng = new Random(seed);
        var cases = new List<KernelCase>
        {
            Conv(new(2, 3, 9, 9, 5, 3, 3, 1, 1, 1, 1, 1, 0, 0), Core.Activation.Relu, bias: true),
            Conv(new(3, 4, 11, 13, 6, 5, 3, 2, 2, 2, 1, 2, 0, 0), Core.Activation.NewLeakyRelu(0.1), bias: true),
            Conv(new(1, 3, 31, 31, 8, 11, 11, 4, 4, 0, 0, 1, 0, 0), Core.Activation.Tanh, bias: false),
            Conv(new(2, 8, 5, 5, 7, 1, 1, 1, 1, 0, 0, 1, 0, 0), Core.Activation.Sigmoid, bias: true),
            Conv(new(2, 6, 7, 7, 6, 3, 3, 1, 1, 1, 1, 3, 0, 0), null, bias: true),
            Conv(RandomConv(rng), Core.Activation.Relu, bias: true),
            Dense(5, 37, 19, Core.Activation.Relu, bias: true),
            Dense(33, 300, 70, null, bias: false),
            Dense(rng.Next(1, 17), rng.Next(1, 90), rng.Next(1, 40), Core.Activation.Sigmoid, bias: true),
            Pool(max: true, Geometry(2, 3, 13, 13, 3, 2, 0, ceil: false)),
            Pool(max: true, Geometry(2, 3, 7, 9, 2, 2, 0, ceil: true)),
            Pool(max: true, Geometry(1, 2, 8, 8, 3, 2, 1, ceil: true)),
            Pool(max: false, Geometry(2, 3, 7, 9, 2, 2, 0, ceil: true)),
            Pool(max: false, Geometry(1, 2, 10, 10, 3, 3, 1, ceil: false)),
            Pool(max: rng.Next(2) == 0, Geometry(rng.Next(1, 3), rng.Next(1, 5), rng.Next(4, 15), rng.Next(4, 15), rng.Next(1, 4), rng.Next(1, 4), 0, ceil: rng.Next(2) == 0)),
            Lrn(2, 7, 5, 5, new LrnSpec(5, 1e-4, 0.75, 2.0)),
            Lrn(1, 5, 3, 4, new LrnSpec(3, 1e-2, 0.6, 1.0)),
            Dropout(1001, 0.5, 3),
            Dropout(4096, 0.3, 8),
            Dropout(4096, 0.3, 8, batch: 4, first: 12),
            Activations(1003, Core.Activation.Relu),
            Activations(1024, Core.Activation.NewLeakyRelu(0.2)),
            Activations(257, Core.Activation.Tanh),
            Activations(512, Core.Activation.Sigmoid),
            Softmax(5, 10, training: true),
            Softmax(7, 13, training: false),
            Softmax(6, 4, training: true, weighted: true),
            BatchNorm(3, 4, 25, training: true),
            BatchNorm(8, 10, 1, training: true),
            BatchNorm(3, 4, 25, training: false),
            Updates(Optimizer.NewSgd(0.1, 0.9, false, 5e-4)),
            Updates(Optimizer.NewSgd(0.1, 0.9, true, 0.0)),
            Updates(Optimizer.NewSgd(0.1, 0.0, false, 1e-3)),
            Updates(Optimizer.NewAdam(0.01, 0.9, 0.999, 1e-8, 1e-4)),
            Updates(Optimizer.NewRmsProp(0.01, 0.99, 1e-8, 0.0, 0.0)),
            Updates(Optimizer.NewRmsProp(0.01, 0.9, 1e-6, 0.5, 1e-4)),
        };
        return cases;
    }

    static ConvGeom RandomConv(Random rng)
    {
        int groups = rng.Next(1, 3), r = rng.Next(1, 6), s = rng.Next(1, 6), stride = rng.Next(1, 4), pad = rng.Next(0, 3);
        return new ConvGeom(rng.Next(1, 4), groups * rng.Next(1, 4), rng.Next(r, 16), rng.Next(s, 16), groups * rng.Next(1, 5), r, s,
            stride, stride, pad, pad, groups, 0, 0);
    }

    static int OutSize(int size, int window, int stride, int pad, bool ceil)
    {
        int span = size + 2 * pad - window;
        if (!ceil) return span / stride + 1;
        int o = (span + stride - 1) / stride + 1;
        // The last window must start inside the input or its left padding (PyTorch's rule, as Shapes.fs applies it).
        return (o - 1) * stride >= size + pad ? o - 1 : o;
    }

    static PoolGeom Geometry(int n, int c, int h, int w, int size, int stride, int pad, bool ceil) =>
        new(n, c, h, w, size, size, stride, stride, pad, pad, OutSize(h, size, stride, pad, ceil), OutSize(w, size, stride, pad, ceil));

    static string Act(Core.Activation? a) => a is null ? "linear" : LayerModule.keyword(Layer.NewAct(a));

    static KernelCase Conv(ConvGeom g0, Core.Activation? act, bool bias)
    {
        var g = new ConvGeom(g0.N, g0.C, g0.H, g0.W, g0.K, g0.R, g0.S, g0.StrideH, g0.StrideW, g0.PadH, g0.PadW, g0.Groups,
            OutSize(g0.H, g0.R, g0.StrideH, g0.PadH, false), OutSize(g0.W, g0.S, g0.StrideW, g0.PadW, false));
        var b = new CaseBuilder($"conv {g.N}x{g.C}x{g.H}x{g.W} -> {g.K} kernel {g.R}x{g.S} stride {g.StrideH} pad {g.PadH},{g.PadW} groups {g.Groups} {Act(act)}");
        int x = b.Tensor("x", (long)g.N * g.C * g.H * g.W), w = b.Tensor("w", (long)g.K * (g.C / g.Groups) * g.R * g.S);
        int? bi = bias ? b.Tensor("bias", g.K) : null;
        int y = b.Tensor("y", (long)g.N * g.K * g.Ho * g.Wo), dy = b.Tensor("dy", (long)g.N * g.K * g.Ho * g.Wo);
        int dx = b.Tensor("dx", (long)g.N * g.C * g.H * g.W), dw = b.Tensor("dw", (long)g.K * (g.C / g.Groups) * g.R * g.S);
        int? db = bias ? b.Tensor("dbias", g.K) : null;
        return b.Build(Float32,
        [
            Kernel.NewConvForward(g, x, w, bi is int i ? Some(i) : null, y, act is null ? null : Some(act)),
            Kernel.NewConvBackwardData(g, dy, w, dx),
            Kernel.NewConvBackwardFilter(g, x, dy, dw, db is int d ? Some(d) : null),
        ]);
    }

    static KernelCase Dense(int n, int inF, int outF, Core.Activation? act, bool bias)
    {
        var b = new CaseBuilder($"dense {n}x{inF} -> {outF} {Act(act)}{(bias ? "" : " no bias")}");
        int x = b.Tensor("x", (long)n * inF), w = b.Tensor("w", (long)outF * inF);
        int? bi = bias ? b.Tensor("bias", outF) : null;
        int y = b.Tensor("y", (long)n * outF), dy = b.Tensor("dy", (long)n * outF), dx = b.Tensor("dx", (long)n * inF), dw = b.Tensor("dw", (long)outF * inF);
        int? db = bias ? b.Tensor("dbias", outF) : null;
        return b.Build(Float32,
        [
            Kernel.NewDenseForward(n, inF, outF, x, w, bi is int i ? Some(i) : null, y, act is null ? null : Some(act)),
            Kernel.NewDenseBackwardData(n, inF, outF, dy, w, dx),
            Kernel.NewDenseBackwardWeights(n, inF, outF, x, dy, dw, db is int d ? Some(d) : null),
        ]);
    }

    static KernelCase Pool(bool max, PoolGeom g)
    {
        var b = new CaseBuilder($"{(max ? "maxpool" : "avgpool")} {g.N}x{g.C}x{g.H}x{g.W} size {g.R} stride {g.StrideH} pad {g.PadH} -> {g.Ho}x{g.Wo}");
        long inF = (long)g.N * g.C * g.H * g.W, outF = (long)g.N * g.C * g.Ho * g.Wo;
        int x = b.Tensor("x", inF), y = b.Tensor("y", outF), dy = b.Tensor("dy", outF), dx = b.Tensor("dx", inF);
        if (!max) return b.Build(Float32, [Kernel.NewAvgPoolForward(g, x, y), Kernel.NewAvgPoolBackward(g, dy, dx)]);
        int arg = b.Tensor("argmax", outF);
        return b.Build(Float32, [Kernel.NewMaxPoolForward(g, x, y, arg), Kernel.NewMaxPoolBackward(g, dy, arg, dx)]);
    }

    static KernelCase Lrn(int n, int c, int h, int w, LrnSpec spec)
    {
        var b = new CaseBuilder($"lrn {n}x{c}x{h}x{w} size {spec.Size} beta {spec.Beta}");
        long count = (long)n * c * h * w;
        int x = b.Tensor("x", count), y = b.Tensor("y", count), scale = b.Tensor("scale", count, Fill.Scratch), dy = b.Tensor("dy", count), dx = b.Tensor("dx", count);
        return b.Build(Float32, [Kernel.NewLrnForward(n, c, h, w, spec, x, y, scale), Kernel.NewLrnBackward(n, c, h, w, spec, x, y, scale, dy, dx)]);
    }

    /// <summary>Masks must match the CPU's bit for bit: the same hash of (seed, layer, step, index), and with a
    /// <see cref="KernelCase.FirstSample"/> the index in the larger batch.</summary>
    static KernelCase Dropout(long count, double rate, int layer, int batch = 1, long first = 0)
    {
        var b = new CaseBuilder($"dropout {count} rate {rate} layer {layer}{(first > 0 ? $", batch {batch} from sample {first} of a larger one" : "")}");
        int x = b.Tensor("x", count), y = b.Tensor("y", count), mask = b.Tensor("mask", count), dy = b.Tensor("dy", count), dx = b.Tensor("dx", count);
        return b.Build(Float32, [Kernel.NewDropoutForward(count, rate, layer, x, y, mask), Kernel.NewDropoutBackward(count, mask, dy, dx)], batch) with { FirstSample = first };
    }

    /// <summary>The backward runs in place (dx = dy), as the plans run it.</summary>
    static KernelCase Activations(long count, Core.Activation act)
    {
        var b = new CaseBuilder($"{Act(act)} {count}");
        int x = b.Tensor("x", count), y = b.Tensor("y", count), dy = b.Tensor("dy", count);
        return b.Build(Float32, [Kernel.NewActivationForward(act, count, x, y), Kernel.NewActivationBackward(act, count, y, dy, dy)]);
    }

    static KernelCase Softmax(int n, int classes, bool training, bool weighted = false)
    {
        var b = new CaseBuilder($"softmax cross-entropy {n}x{classes}{(training ? " with gradient" : "")}{(weighted ? ", class weights" : "")}");
        int logits = b.Tensor("logits", (long)n * classes), labels = b.Tensor("labels", n, Fill.Labels), probs = b.Tensor("probs", (long)n * classes);
        int? d = training ? b.Tensor("dlogits", (long)n * classes) : null;
        int? weights = weighted ? b.Tensor("class_weights", classes, Fill.Positive, BufferKind.Constant) : null;
        return b.Build(Float32, [Kernel.NewSoftmaxCrossEntropy(n, classes, logits, labels, probs, d is int i ? Some(i) : null)],
            batch: n, classes: classes, probs: probs, classWeights: weights);
    }

    static KernelCase BatchNorm(int n, int c, int hw, bool training)
    {
        var b = new CaseBuilder($"batchnorm {n}x{c}x{hw} {(training ? "training, forward and backward" : "inference")}");
        var spec = new BatchNormSpec(1e-5, 0.1);
        long count = (long)n * c * hw;
        int x = b.Tensor("x", count), gamma = b.Tensor("gamma", c), beta = b.Tensor("beta", c), y = b.Tensor("y", count);
        int mean = b.Tensor("mean", c), invStd = b.Tensor("invstd", c), rm = b.Tensor("running_mean", c), rv = b.Tensor("running_var", c, Fill.Positive);
        var forward = Kernel.NewBatchNormForward(n, c, hw, spec, training, x, gamma, beta, y, mean, invStd, rm, rv);
        if (!training) return b.Build(Float32, [forward]);
        int dy = b.Tensor("dy", count), dx = b.Tensor("dx", count), dgamma = b.Tensor("dgamma", c), dbeta = b.Tensor("dbeta", c);
        return b.Build(Float32, [forward, Kernel.NewBatchNormBackward(n, c, hw, x, dy, gamma, mean, invStd, dx, dgamma, dbeta)]);
    }

    /// <summary>Two tensors, one whose size is a multiple of 4 (the vector path) and one that is not, with its own
    /// learning-rate and decay factors.</summary>
    static KernelCase Updates(Optimizer optimizer)
    {
        var b = new CaseBuilder($"update {optimizer}".Replace("\n", " "));
        b.Trainable("a", 4096);
        b.Trainable("b", 1001, lrMult: 0.5, decayMult: 2);
        return b.Build(Float32, []) with { Optimizer = optimizer };
    }
}
