using System;
using System.Runtime.CompilerServices;
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace Dsl.Runtime.Cpu;

/// <summary>Pointwise activation functions.</summary>
public enum Activation
{
    /// <summary>Identity.</summary>
    None,
    /// <summary>max(x, 0).</summary>
    Relu,
    /// <summary>x &gt; 0 ? x : slope * x (slope = actParam).</summary>
    LeakyRelu,
    /// <summary>Hyperbolic tangent.</summary>
    Tanh,
    /// <summary>1 / (1 + exp(-x)).</summary>
    Sigmoid,
}

/// <summary>Activation forward and backward kernels (backward is expressed through the forward output).</summary>
public static unsafe class Activations
{
    private const int Grain = 1 << 15;

    /// <summary>y = act(x) over n elements; y may alias x.</summary>
    public static void Forward(Activation act, float actParam, float* x, float* y, long n)
    {
        if (act == Activation.None)
        {
            if (x != y) Ops.Copy(x, y, n);
            return;
        }
        var job = new ForwardJob { Act = act, P = actParam, X = x, Y = y };
        Ops.ForChunks(n, Grain, ref job);
    }

    /// <summary>dx = dy * act'(from output y) over n elements; dx may alias dy.</summary>
    public static void Backward(Activation act, float actParam, float* y, float* dy, float* dx, long n)
    {
        var job = new BackwardJob { Act = act, P = actParam, Y = y, Dy = dy, Dx = dx };
        Ops.ForChunks(n, Grain, ref job);
    }

    /// <summary>Serial y = act(x) over a short run (used by GEMM epilogues on cache-hot tiles).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Apply(Activation act, float p, float* x, float* y, int n)
    {
        var sx = new ReadOnlySpan<float>(x, n);
        var sy = new Span<float>(y, n);
        switch (act)
        {
            case Activation.None:
                if (x != y) sx.CopyTo(sy);
                break;
            case Activation.Relu:
                TensorPrimitives.Max(sx, 0f, sy);
                break;
            case Activation.LeakyRelu:
            {
                int i = 0;
                var vp = Vector256.Create(p);
                for (; i <= n - Vector256<float>.Count; i += Vector256<float>.Count)
                {
                    var v = Vector256.Load(x + i);
                    Vector256.Store(Vector256.ConditionalSelect(Vector256.GreaterThan(v, Vector256<float>.Zero), v, v * vp), y + i);
                }
                for (; i < n; i++) y[i] = x[i] > 0f ? x[i] : p * x[i];
                break;
            }
            case Activation.Tanh:
                TensorPrimitives.Tanh(sx, sy);
                break;
            case Activation.Sigmoid:
                TensorPrimitives.Sigmoid(sx, sy);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(act));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Derivative(Activation act, float p, float* y, float* dy, float* dx, int n)
    {
        int i = 0;
        const int W = 8;
        var one = Vector256.Create(1f);
        switch (act)
        {
            case Activation.None:
                if (dx != dy) new ReadOnlySpan<float>(dy, n).CopyTo(new Span<float>(dx, n));
                return;
            case Activation.Relu:
                Gated<ReluGate>(p, y, dy, dx, n);
                return;
            case Activation.LeakyRelu:
                Gated<LeakyGate>(p, y, dy, dx, n);
                return;
            case Activation.Tanh:
                for (; i <= n - W; i += W)
                {
                    var v = Vector256.Load(y + i);
                    Vector256.Store(Vector256.Load(dy + i) * (one - v * v), dx + i);
                }
                for (; i < n; i++) dx[i] = dy[i] * (1f - y[i] * y[i]);
                return;
            case Activation.Sigmoid:
                for (; i <= n - W; i += W)
                {
                    var v = Vector256.Load(y + i);
                    Vector256.Store(Vector256.Load(dy + i) * v * (one - v), dx + i);
                }
                for (; i < n; i++) dx[i] = dy[i] * y[i] * (1f - y[i]);
                return;
            default:
                throw new ArgumentOutOfRangeException(nameof(act));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Gated<TAct>(float p, float* y, float* dy, float* dx, int n) where TAct : IActivationGate
    {
        int i = 0;
        var vp = Vector256.Create(p);
        for (; i <= n - 8; i += 8) TAct.Grad(Vector256.Load(y + i), Vector256.Load(dy + i), vp).Store(dx + i);
        for (; i < n; i++) dx[i] = TAct.Grad(y[i], dy[i], p);
    }

    private struct ForwardJob : IChunkJob
    {
        public Activation Act;
        public float P;
        public float* X, Y;
        public void Run(long begin, int count) => Apply(Act, P, X + begin, Y + begin, count);
    }

    private struct BackwardJob : IChunkJob
    {
        public Activation Act;
        public float P;
        public float* Y, Dy, Dx;
        public void Run(long begin, int count) => Derivative(Act, P, Y + begin, Dy + begin, Dx + begin, count);
    }
}
