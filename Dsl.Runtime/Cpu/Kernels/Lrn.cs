using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Dsl.Runtime.Cpu;

/// <summary>Local response normalisation across channels (AlexNet form: alpha is not divided by size).</summary>
/// <remarks>The scale k + alpha * (sum of x^2 over the channel window) is not kept between the passes: the gradient
/// recomputes it from x, which it reads anyway. On AlexNet's activations (74 MB a layer at batch 64) both passes are
/// bound by memory, and the saved scale was a third of the forward pass's traffic and two fifths of the gradient's:
/// lrn1 took 10 ms forward and 22 ms backward with it.</remarks>
public static unsafe class Lrn
{
    // Spatial positions per work item: the running channel sums stay in L1, and the gradient's per-channel terms for
    // the item (2 x C x Chunk floats) in L2.
    private const int Chunk = 512;

    /// <summary>y = x / scale^beta with scale = k + alpha * (sum of x^2 over the channel window).</summary>
    public static void Forward(int N, int C, int H, int W, int size, float alpha, float beta, float k, float* x, float* y)
    {
        var job = new Job { C = C, HW = H * W, Half = size / 2, Alpha = alpha, Beta = beta, K = k, X = x, Y = y };
        job.Chunks = (job.HW + Chunk - 1) / Chunk;
        CpuThreads.For(N * job.Chunks, 1, ref job);
    }

    /// <summary>dx from dy given the forward input x (overwrites dx).</summary>
    public static void Backward(int N, int C, int H, int W, int size, float alpha, float beta, float k, float* x, float* dy, float* dx)
    {
        var job = new Job { C = C, HW = H * W, Half = size / 2, Alpha = alpha, Beta = beta, K = k, X = x, Dy = dy, Dx = dx };
        job.Chunks = (job.HW + Chunk - 1) / Chunk;
        CpuThreads.For(N * job.Chunks, 1, ref job);
    }

    /// <summary>s^-beta; the AlexNet exponent 0.75 uses square roots (1 / (sqrt(s) * sqrt(sqrt(s)))) instead of exp/log.</summary>
    private static Vector512<float> PowNeg(Vector512<float> s, float beta)
    {
        if (beta == 0.75f)
        {
            var r = Vector512.Sqrt(s);
            return Vector512<float>.One / (r * Vector512.Sqrt(r));
        }
        return Vector512.Exp(Vector512.Log(s) * Vector512.Create(-beta));
    }

    private static float PowNeg(float s, float beta) => beta == 0.75f ? 1f / (MathF.Sqrt(s) * MathF.Sqrt(MathF.Sqrt(s))) : MathF.Pow(s, -beta);

    [ThreadStatic] private static float[]? t_terms;

    private struct Job : IParallelJob
    {
        public int C, HW, Half, Chunks;
        public float Alpha, Beta, K;
        public float* X, Y, Dy, Dx; // Dy == null: forward

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int begin, int end)
        {
            // Running window sum over channels for one chunk.
            float* run = stackalloc float[Chunk];
            for (int item = begin; item < end; item++)
            {
                int n = item / Chunks, h0 = item % Chunks * Chunk, len = Math.Min(Chunk, HW - h0);
                long b = (long)n * C * HW + h0;
                if (Dy == null) ForwardItem(b, len, run);
                else BackwardItem(b, len, run);
            }
        }

        /// <summary>Channel c's window of squares in run: [c - Half, c + Half]; sliding by one adds channel c + Half and
        /// drops c - Half - 1. Call with c = 0, 1, ... in turn, run cleared and filled with channels below Half first.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private readonly void Slide(long b, int c, int len, float* run)
        {
            float* add = c + Half < C ? X + b + (long)(c + Half) * HW : null;
            float* drop = c - Half - 1 >= 0 ? X + b + (long)(c - Half - 1) * HW : null;
            int i = 0;
            for (; i <= len - 16; i += 16)
            {
                var s = Vector512.Load(run + i);
                if (add != null) { var v = Vector512.Load(add + i); s += v * v; }
                if (drop != null) { var v = Vector512.Load(drop + i); s -= v * v; }
                Vector512.Store(s, run + i);
            }
            for (; i < len; i++) run[i] = run[i] + (add != null ? add[i] * add[i] : 0f) - (drop != null ? drop[i] * drop[i] : 0f);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly void Start(long b, int len, float* run)
        {
            new Span<float>(run, len).Clear();
            for (int j = 0; j < Math.Min(Half, C); j++)
            {
                float* x = X + b + (long)j * HW;
                int i = 0;
                for (; i <= len - 16; i += 16)
                {
                    var v = Vector512.Load(x + i);
                    Vector512.Store(Vector512.Load(run + i) + v * v, run + i);
                }
                for (; i < len; i++) run[i] += x[i] * x[i];
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly void ForwardItem(long b, int len, float* run)
        {
            Start(b, len, run);
            var alpha = Vector512.Create(Alpha);
            var k = Vector512.Create(K);
            for (int c = 0; c < C; c++)
            {
                Slide(b, c, len, run);
                long o = b + (long)c * HW;
                float* x = X + o, y = Y + o;
                int i = 0;
                for (; i <= len - 16; i += 16)
                    Vector512.Store(Vector512.Load(x + i) * PowNeg(k + alpha * Vector512.Load(run + i), Beta), y + i);
                for (; i < len; i++) y[i] = x[i] * PowNeg(K + Alpha * run[i], Beta);
            }
        }

        /// <summary>dx_j = dy_j s_j^-beta - 2 alpha beta x_j sum over c in window(j) of dy_c x_c s_c^(-beta-1), the
        /// scales s recomputed as the forward pass made them: first each channel's two terms into scratch, then the
        /// sliding sum of the second.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly void BackwardItem(long b, int len, float* run)
        {
            float* g = Gemm.Scratch(ref t_terms, 2L * C * Chunk), ratio = g + (long)C * Chunk;
            Start(b, len, run);
            var alpha = Vector512.Create(Alpha);
            var k = Vector512.Create(K);
            for (int c = 0; c < C; c++)
            {
                Slide(b, c, len, run);
                long o = b + (long)c * HW;
                float* x = X + o, dy = Dy + o, gc = g + (long)c * Chunk, rc = ratio + (long)c * Chunk;
                int i = 0;
                for (; i <= len - 16; i += 16)
                {
                    var s = k + alpha * Vector512.Load(run + i);
                    var d = Vector512.Load(dy + i) * PowNeg(s, Beta);
                    Vector512.Store(d, gc + i);
                    Vector512.Store(d * Vector512.Load(x + i) / s, rc + i);
                }
                for (; i < len; i++)
                {
                    float s = K + Alpha * run[i], d = dy[i] * PowNeg(s, Beta);
                    gc[i] = d;
                    rc[i] = d * x[i] / s;
                }
            }
            new Span<float>(run, len).Clear();
            for (int j = 0; j < Math.Min(Half, C); j++) Add(ratio + (long)j * Chunk, len, run, 1f);
            var coef = Vector512.Create(-2f * Alpha * Beta);
            for (int c = 0; c < C; c++)
            {
                if (c + Half < C) Add(ratio + (long)(c + Half) * Chunk, len, run, 1f);
                if (c - Half - 1 >= 0) Add(ratio + (long)(c - Half - 1) * Chunk, len, run, -1f);
                long o = b + (long)c * HW;
                float* x = X + o, dx = Dx + o, gc = g + (long)c * Chunk;
                int i = 0;
                for (; i <= len - 16; i += 16)
                    Vector512.Store(Vector512.Load(gc + i) + coef * Vector512.Load(x + i) * Vector512.Load(run + i), dx + i);
                for (; i < len; i++) dx[i] = gc[i] - 2f * Alpha * Beta * x[i] * run[i];
            }
        }

        /// <summary>run += sign * terms.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Add(float* terms, int len, float* run, float sign)
        {
            var vs = Vector512.Create(sign);
            int i = 0;
            for (; i <= len - 16; i += 16) Vector512.Store(Vector512.Load(run + i) + vs * Vector512.Load(terms + i), run + i);
            for (; i < len; i++) run[i] += sign * terms[i];
        }
    }
}
