using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Dsl.Runtime.Cpu;

/// <summary>A dense layer's forward pass for a few samples: dot products straight from the weight rows.</summary>
/// <remarks>At batch 1 the packed GEMM would copy and transpose the whole weight matrix to use each weight once; here each
/// weight is read once per sample, four output rows at a time, and the output rows are split between threads. Each dot
/// product is summed in the same order whatever the thread count.</remarks>
internal static unsafe class Gemv
{
    /// <summary>Samples up to which the forward pass takes this path rather than the packed GEMM.</summary>
    public const int MaxSamples = 4;

    /// <summary>y[i, o] = act(x[i, :] . w[o, :] + bias[o]) for i &lt; n; bias may be null.</summary>
    public static void Forward(int n, int inF, int outF, float* x, float* w, float* bias, float* y, Activation act, float actParam)
    {
        var job = new Job { N = n, In = inF, Out = outF, X = x, W = w, Bias = bias, Y = y, Act = act, ActParam = actParam };
        // Blocks of four rows; enough of them per thread that the dispatch is worth it (about 64 K weights each).
        int blocks = (outF + 3) / 4;
        CpuThreads.For(blocks, Math.Max(1, (1 << 16) / Math.Max(1, 4 * inF)), ref job);
    }

    private struct Job : IParallelJob
    {
        public int N, In, Out;
        public float* X, W, Bias, Y;
        public Activation Act;
        public float ActParam;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int begin, int end)
        {
            for (int blk = begin; blk < end; blk++)
            {
                int o0 = blk * 4, rows = Math.Min(4, Out - o0);
                for (int i = 0; i < N; i++)
                {
                    float* xi = X + (long)i * In, yi = Y + (long)i * Out + o0;
                    if (rows == 4) Dot4(xi, W + (long)o0 * In, In, yi);
                    else for (int r = 0; r < rows; r++) yi[r] = Dot1(xi, W + (long)(o0 + r) * In, In);
                    if (Bias != null) for (int r = 0; r < rows; r++) yi[r] += Bias[o0 + r];
                    Activations.Apply(Act, ActParam, yi, yi, rows); // the serial form: four outputs need no dispatch
                }
            }
        }
    }

    /// <summary>y[r] = x . w[r*ld ..] for four rows: two vectors per row in flight, lanes summed the same way every time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Dot4(float* x, float* w, int k, float* y)
    {
        float* w0 = w, w1 = w + k, w2 = w + 2L * k, w3 = w + 3L * k;
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        Vector256<float> b0 = default, b1 = default, b2 = default, b3 = default;
        int j = 0;
        for (; j <= k - 16; j += 16)
        {
            var u = Vector256.Load(x + j);
            var v = Vector256.Load(x + j + 8);
            a0 = Vector256.FusedMultiplyAdd(u, Vector256.Load(w0 + j), a0); b0 = Vector256.FusedMultiplyAdd(v, Vector256.Load(w0 + j + 8), b0);
            a1 = Vector256.FusedMultiplyAdd(u, Vector256.Load(w1 + j), a1); b1 = Vector256.FusedMultiplyAdd(v, Vector256.Load(w1 + j + 8), b1);
            a2 = Vector256.FusedMultiplyAdd(u, Vector256.Load(w2 + j), a2); b2 = Vector256.FusedMultiplyAdd(v, Vector256.Load(w2 + j + 8), b2);
            a3 = Vector256.FusedMultiplyAdd(u, Vector256.Load(w3 + j), a3); b3 = Vector256.FusedMultiplyAdd(v, Vector256.Load(w3 + j + 8), b3);
        }
        float s0 = Vector256.Sum(a0 + b0), s1 = Vector256.Sum(a1 + b1), s2 = Vector256.Sum(a2 + b2), s3 = Vector256.Sum(a3 + b3);
        for (; j < k; j++)
        {
            s0 = MathF.FusedMultiplyAdd(x[j], w0[j], s0);
            s1 = MathF.FusedMultiplyAdd(x[j], w1[j], s1);
            s2 = MathF.FusedMultiplyAdd(x[j], w2[j], s2);
            s3 = MathF.FusedMultiplyAdd(x[j], w3[j], s3);
        }
        y[0] = s0; y[1] = s1; y[2] = s2; y[3] = s3;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Dot1(float* x, float* w, int k)
    {
        Vector256<float> a = default, b = default;
        int j = 0;
        for (; j <= k - 16; j += 16)
        {
            a = Vector256.FusedMultiplyAdd(Vector256.Load(x + j), Vector256.Load(w + j), a);
            b = Vector256.FusedMultiplyAdd(Vector256.Load(x + j + 8), Vector256.Load(w + j + 8), b);
        }
        float s = Vector256.Sum(a + b);
        for (; j < k; j++) s = MathF.FusedMultiplyAdd(x[j], w[j], s);
        return s;
    }
}
