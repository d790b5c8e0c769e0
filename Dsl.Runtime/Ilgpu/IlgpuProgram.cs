using Dsl.Core;
using ConvGeometry = Dsl.Runtime.Cpu.ConvGeometry;
using PoolGeometry = Dsl.Runtime.Cpu.PoolGeometry;
using Dsl.Runtime.Ilgpu.Kernels;
using ILGPU;
using Microsoft.FSharp.Core;
using K = Dsl.Runtime.Ilgpu.Kernels;

namespace Dsl.Runtime.Ilgpu;

/// <summary>The ILGPU launches of a plan, kernel by kernel, with the fusions the compiler chose (a convolution's or dense
/// layer's bias and activation in its epilogue): the same Plan the C renderer takes, the kernels written in C# instead.</summary>
static class IlgpuProgram
{
    /// <summary>For each plan kernel in order, its launches; <paramref name="view"/> finds a buffer's memory by id (only
    /// asked when a launch runs, so a listing may pass a resolver that has none). <paramref name="firstSample"/> gives the
    /// runner's <see cref="IStepRunner.FirstSample"/> when a launch runs.</summary>
    public static IlgpuLaunch[][] Of(Plan plan, Func<int, ArrayView<float>> view, Func<ArrayView<float>> losses, ulong seed, Func<long> firstSample) =>
        plan.Kernels.Select((k, i) => Launches(plan, k, $"k{i:00}_{k.GetType().Name}", view, losses, seed, firstSample)).ToArray();

    static IlgpuLaunch[] Launches(Plan plan, Kernel kernel, string name, Func<int, ArrayView<float>> v, Func<ArrayView<float>> losses, ulong seed, Func<long> firstSample)
    {
        ArrayView<float> Opt(FSharpOption<int>? id) => id is null ? default : v(id.Value);
        switch (kernel)
        {
            case Kernel.ConvForward k:
                return [new PerElement<ConvArgs>(name, Epilogue.With(typeof(Conv.Forward<>), k.Act?.Value), Count(k.G, output: true),
                    _ => new ConvArgs { G = ConvGeometry.Of(k.G), X = v(k.X), W = v(k.W), Bias = Opt(k.Bias), Y = v(k.Y), HasBias = k.Bias is null ? 0 : 1, Slope = Epilogue.Slope(k.Act?.Value) })];
            case Kernel.ConvBackwardData k:
                return [new PerElement<ConvArgs>(name, typeof(Conv.BackwardData), Count(k.G, output: false),
                    _ => new ConvArgs { G = ConvGeometry.Of(k.G), Dy = v(k.Dy), W = v(k.W), Dx = v(k.Dx) })];
            case Kernel.ConvBackwardFilter k:
                return
                [
                    new PerElement<ConvArgs>(name, typeof(Conv.BackwardFilter), (long)k.G.K * (k.G.C / k.G.Groups) * k.G.R * k.G.S,
                        _ => new ConvArgs { G = ConvGeometry.Of(k.G), X = v(k.X), Dy = v(k.Dy), Dw = v(k.Dw) }),
                    .. BiasSums(name, k.G.N, k.G.K, k.G.Ho * k.G.Wo, k.Dy, k.Dbias, v),
                ];
            case Kernel.DenseForward k:
                return [new PerElement<DenseArgs>(name, Epilogue.With(typeof(K.Dense.Forward<>), k.Act?.Value), (long)k.N * k.Out,
                    _ => new DenseArgs { N = k.N, In = k.In, Out = k.Out, X = v(k.X), W = v(k.W), Bias = Opt(k.Bias), Y = v(k.Y), HasBias = k.Bias is null ? 0 : 1, Slope = Epilogue.Slope(k.Act?.Value) })];
            case Kernel.DenseBackwardData k:
                return [new PerElement<DenseArgs>(name, typeof(K.Dense.BackwardData), (long)k.N * k.In,
                    _ => new DenseArgs { N = k.N, In = k.In, Out = k.Out, Dy = v(k.Dy), W = v(k.W), Dx = v(k.Dx) })];
            case Kernel.DenseBackwardWeights k:
                return
                [
                    new PerElement<DenseArgs>(name, typeof(K.Dense.BackwardWeights), (long)k.Out * k.In,
                        _ => new DenseArgs { N = k.N, In = k.In, Out = k.Out, X = v(k.X), Dy = v(k.Dy), Dw = v(k.Dw) }),
                    .. BiasSums(name, k.N, k.Out, 1, k.Dy, k.Dbias, v),
                ];
            case Kernel.ActivationForward k:
                return [new PerElement<ActivationArgs>(name, Epilogue.With(typeof(Elementwise.ActivationForward<>), k.Act), k.Count,
                    _ => new ActivationArgs { X = v(k.X), Y = v(k.Y), Slope = Epilogue.Slope(k.Act) })];
            case Kernel.ActivationBackward k:
                return [new PerElement<ActivationArgs>(name, Epilogue.With(typeof(Elementwise.ActivationBackward<>), k.Act), k.Count,
                    _ => new ActivationArgs { Y = v(k.Y), Dy = v(k.Dy), Dx = v(k.Dx), Slope = Epilogue.Slope(k.Act) })];
            case Kernel.MaxPoolForward k:
                return [new PerElement<PoolArgs>(name, typeof(K.Pool.MaxForward), Outputs(k.P),
                    _ => new PoolArgs { G = PoolGeometry.Of(k.P), X = v(k.X), Y = v(k.Y), Argmax = v(k.Argmax).Cast<int>() })];
            case Kernel.MaxPoolBackward k:
                return [new PerElement<PoolArgs>(name, typeof(K.Pool.MaxBackward), Inputs(k.P),
                    _ => new PoolArgs { G = PoolGeometry.Of(k.P), Dy = v(k.Dy), Argmax = v(k.Argmax).Cast<int>(), Dx = v(k.Dx) })];
            case Kernel.AvgPoolForward k:
                return [new PerElement<PoolArgs>(name, typeof(K.Pool.AvgForward), Outputs(k.P), _ => new PoolArgs { G = PoolGeometry.Of(k.P), X = v(k.X), Y = v(k.Y) })];
            case Kernel.AvgPoolBackward k:
                return [new PerElement<PoolArgs>(name, typeof(K.Pool.AvgBackward), Inputs(k.P), _ => new PoolArgs { G = PoolGeometry.Of(k.P), Dy = v(k.Dy), Dx = v(k.Dx) })];
            case Kernel.LrnForward k:
                return [new PerElement<LrnArgs>(name, typeof(K.Lrn.Forward), (long)k.N * k.C * k.H * k.W,
                    _ => Lrn(k.C, k.H * k.W, k.Spec) with { X = v(k.X), Y = v(k.Y), Scale = v(k.Scale) })];
            case Kernel.LrnBackward k:
                return [new PerElement<LrnArgs>(name, typeof(K.Lrn.Backward), (long)k.N * k.C * k.H * k.W,
                    _ => Lrn(k.C, k.H * k.W, k.Spec) with { X = v(k.X), Y = v(k.Y), Scale = v(k.Scale), Dy = v(k.Dy), Dx = v(k.Dx) })];
            case Kernel.DropoutForward k:
            {
                float rate = (float)k.Rate;
                return [new PerElement<DropoutArgs>(name, typeof(Dropout.Forward), k.Count,
                    step => new DropoutArgs
                    {
                        X = v(k.X), Y = v(k.Y), Mask = v(k.Mask), Key = Dropout.Key(seed, k.Layer, step), Rate = rate, Keep = rate >= 1f ? 0f : 1f / (1f - rate),
                        First = (ulong)(firstSample() * (k.Count / plan.Batch)),
                    })];
            }
            case Kernel.DropoutBackward k:
                return [new PerElement<DropoutArgs>(name, typeof(Dropout.Backward), k.Count, _ => new DropoutArgs { Mask = v(k.Mask), Dy = v(k.Dy), Dx = v(k.Dx) })];
            case Kernel.BatchNormForward k:
            {
                BatchNormArgs Args() => new()
                {
                    N = k.N, C = k.C, HW = k.HW, Eps = (float)k.Spec.Eps, Momentum = (float)k.Spec.Momentum, X = v(k.X), Gamma = v(k.Gamma), Beta = v(k.Beta), Y = v(k.Y),
                    Mean = v(k.Mean), InvStd = v(k.InvStd), RunningMean = v(k.RunningMean), RunningVar = v(k.RunningVar),
                };
                return k.Training
                    ? [new PerGroup<BatchNormArgs>(name, K.BatchNorm.ForwardTraining, k.C, _ => Args())]
                    : [new PerElement<BatchNormArgs>(name, typeof(K.BatchNorm.ForwardInference), (long)k.N * k.C * k.HW, _ => Args())];
            }
            case Kernel.BatchNormBackward k:
                return [new PerGroup<BatchNormArgs>(name, K.BatchNorm.Backward, k.C, _ => new BatchNormArgs
                {
                    N = k.N, C = k.C, HW = k.HW, X = v(k.X), Dy = v(k.Dy), Gamma = v(k.Gamma), Mean = v(k.Mean), InvStd = v(k.InvStd),
                    Dx = v(k.Dx), Dgamma = v(k.Dgamma), Dbeta = v(k.Dbeta),
                })];
            case Kernel.SoftmaxCrossEntropy k:
                return [new PerElement<LossArgs>(name, typeof(Loss.SoftmaxCrossEntropy), k.N, _ => new LossArgs
                {
                    N = k.N, Classes = k.Classes, Weighted = plan.ClassWeights is null ? 0 : 1, Training = k.Dlogits is null ? 0 : 1,
                    Logits = v(k.Logits), Labels = v(k.Labels).Cast<int>(), Probs = v(k.Probs), ClassWeights = Opt(plan.ClassWeights), Dlogits = Opt(k.Dlogits),
                    Losses = losses(),
                })];
            default:
                throw new NotSupportedException($"the ILGPU kernels have no implementation of {kernel.GetType().Name}");
        }
    }

    static IEnumerable<IlgpuLaunch> BiasSums(string name, int n, int channels, int hw, int dy, FSharpOption<int>? sums, Func<int, ArrayView<float>> v) =>
        sums is null ? [] : [new PerGroup<ChannelArgs>(name + "_bias", Reduce.ChannelSums, channels, _ => new ChannelArgs { N = n, C = channels, HW = hw, Dy = v(dy), Sums = v(sums.Value) })];

    static long Count(ConvGeom g, bool output) => output ? (long)g.N * g.K * g.Ho * g.Wo : (long)g.N * g.C * g.H * g.W;
    static long Outputs(PoolGeom g) => (long)g.N * g.C * g.Ho * g.Wo;
    static long Inputs(PoolGeom g) => (long)g.N * g.C * g.H * g.W;

    static LrnArgs Lrn(int c, int hw, LrnSpec spec) =>
        new() { C = c, HW = hw, Half = spec.Size / 2, Alpha = (float)spec.Alpha, Beta = (float)spec.Beta, K = (float)spec.K };

    /// <summary>The update of one tensor of <paramref name="count"/> floats, its arguments given at each step.</summary>
    public static PerElement<UpdateArgs> Update(Optimizer optimizer, long count, Func<long, UpdateArgs> args) =>
        new($"update_{optimizer.GetType().Name.ToLowerInvariant()}_{count}", optimizer switch
        {
            Optimizer.Sgd => typeof(Optimizers.Sgd),
            Optimizer.Adam => typeof(Optimizers.Adam),
            _ => typeof(Optimizers.RmsProp),
        }, count, args);

    /// <summary>The arguments of one tensor's update at step <paramref name="t"/>, in the CPU device's precision.</summary>
    public static UpdateArgs UpdateArgs(Optimizer optimizer, double learningRate, ParamRef p, long t)
    {
        var (lr, wd) = StepArithmetic.Scaled(optimizer, learningRate, p);
        return optimizer switch
        {
            Optimizer.Sgd o => new UpdateArgs { Lr = lr, Wd = wd, Momentum = (float)o.momentum, Nesterov = o.nesterov ? 1 : 0 },
            Optimizer.Adam o => new UpdateArgs
            {
                Wd = wd, Beta1 = (float)o.beta1, Beta2 = (float)o.beta2, Eps = (float)o.eps,
                StepSize = StepArithmetic.AdamStepSize(lr, o, t), InvSqrtBias2 = StepArithmetic.AdamInvSqrtBias2(o, t),
            },
            Optimizer.RmsProp o => new UpdateArgs { Lr = lr, Wd = wd, Rho = (float)o.rho, Eps = (float)o.eps, Momentum = (float)o.momentum },
            _ => throw new NotSupportedException($"the ILGPU kernels have no update for {optimizer}"),
        };
    }
}
