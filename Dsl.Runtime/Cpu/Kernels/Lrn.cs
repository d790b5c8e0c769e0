using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Dsl.Runtime.Cpu;

/// <summary>Local response normalisation across channels (AlexNet form: alpha is not divided by size).</summary>
public static unsafe class Lrn
{
    // Spatial positions per work item: the running channel sums stay in L1.
    private const int Chunk = 512;

    /// <summary>y = x / scale^beta with scale = k + alpha * (sum of x^2 over the channel window), saved for backward.</summary>
    public static void Forward(int N, int C, int H, int W, int size, float alpha, float beta, float k, float* x, float* y, float* scale)
    {
        var job = new Job { C = C, HW = H * W, Half = size / 2, Alpha = alpha, Beta = beta, K = k, X = x, Y = y, Scale = scale };
        job.Chunks = (job.HW + Chunk - 1) / Chunk;
        CpuThreads.For(N * job.Chunks, 1, ref job);
    }

    /// <summary>dx from dy given the forward x, y and scale (overwrites dx).</summary>
    public static void Backward(int N, int C, int H, int W, int size, float alpha, float beta, float k,
        float* x, float* y, float* scale, float* dy, float* dx)
    {
        var job = new Job { C = C, HW = H * W, Half = size / 2, Alpha = alpha, Beta = beta, K = k, X = x, Y = y, Scale = scale, Dy = dy, Dx = dx };
        job.Chunks = (job.HW + Chunk - 1) / Chunk;
        CpuThreads.For(N * job.Chunks, 1, ref job);
    }

    /// <summary>s^-beta; the AlexNet exponent 0.75 uses square roots (1 / (sqrt(s) * sqrt(sqrt(s)))) instead of exp/log.</summary>
    private static Vector256<float> PowNeg(Vector256<float> s, float beta)
    {
        if (beta == 0.75f)
        {
            var r = Vector256.Sqrt(s);
            return Vector256<float>.One / (r * Vector256.Sqrt(r));
        }
        return Vector256.Exp(Vector256.Log(s) * Vector256.Create(-beta));
    }

    private struct Job : IParallelJob
    {
        public int C, HW, Half, Chunks;
        public float Alpha, Beta, K;
        public float* X, Y, Scale, Dy, Dx; // Dy == null: forward

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int begin, int end)
        {
            // Running window sum over channels for one chunk.
            float* run = stackalloc float[Chunk];
            for (int item = begin; item < end; item++)
            {
                int n = item / Chunks, h0 = item % Chunks * Chunk, len = Math.Min(Chunk, HW - h0);
                long b = (long)n * C * HW + h0;
                new Span<float>(run, len).Clear();
                if (Dy == null) ForwardItem(b, len, run);
                else BackwardItem(b, len, run);
            }
        }

        // Window of channel c is [c - Half, c + Half]; sliding by one adds channel c + Half and drops c - Half - 1.
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly void ForwardItem(long b, int len, float* run)
        {
            for (int j = 0; j < Math.Min(Half, C); j++) AddSquares(X + b + (long)j * HW, len, run);
            var alpha = Vector256.Create(Alpha);
            var k = Vector256.Create(K);
            for (int c = 0; c < C; c++)
            {
                long o = b + (long)c * HW;
                float* add = c + Half < C ? X + b + (long)(c + Half) * HW : null;
                float* drop = c - Half - 1 >= 0 ? X + b + (long)(c - Half - 1) * HW : null;
                float* x = X + o, y = Y + o, sc = Scale + o;
                int i = 0;
                for (; i <= len - 8; i += 8)
                {
                    var s = Vector256.Load(run + i);
                    if (add != null) { var v = Vector256.Load(add + i); s += v * v; }
                    if (drop != null) { var v = Vector256.Load(drop + i); s -= v * v; }
                    Vector256.Store(s, run + i);
                    var scale = k + alpha * s;
                    Vector256.Store(scale, sc + i);
                    Vector256.Store(Vector256.Load(x + i) * PowNeg(scale, Beta), y + i);
                }
                for (; i < len; i++)
                {
                    float s = run[i] + (add != null ? add[i] * add[i] : 0f) - (drop != null ? drop[i] * drop[i] : 0f);
                    run[i] = s;
                    sc[i] = K + Alpha * s;
                    y[i] = x[i] * MathF.Pow(sc[i], -Beta);
                }
            }
        }

        // dx_j = dy_j * scale_j^-beta - 2*alpha*beta * x_j * sum_{c in window(j)} dy_c * y_c / scale_c
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly void BackwardItem(long b, int len, float* run)
        {
            for (int j = 0; j < Math.Min(Half, C); j++) AddRatio(b + (long)j * HW, len, run, 1f);
            var coef = Vector256.Create(-2f * Alpha * Beta);
            for (int c = 0; c < C; c++)
            {
                if (c + Half < C) AddRatio(b + (long)(c + Half) * HW, len, run, 1f);
                if (c - Half - 1 >= 0) AddRatio(b + (long)(c - Half - 1) * HW, len, run, -1f);
                long o = b + (long)c * HW;
                float* x = X + o, dy = Dy + o, dx = Dx + o, sc = Scale + o;
                int i = 0;
                for (; i <= len - 8; i += 8)
                {
                    var g = Vector256.Load(dy + i) * PowNeg(Vector256.Load(sc + i), Beta);
                    Vector256.Store(g + coef * Vector256.Load(x + i) * Vector256.Load(run + i), dx + i);
                }
                for (; i < len; i++)
                    dx[i] = dy[i] * MathF.Pow(sc[i], -Beta) - 2f * Alpha * Beta * x[i] * run[i];
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void AddSquares(float* x, int len, float* run)
        {
            int i = 0;
            for (; i <= len - 8; i += 8)
            {
                var v = Vector256.Load(x + i);
                Vector256.Store(Vector256.Load(run + i) + v * v, run + i);
            }
            for (; i < len; i++) run[i] += x[i] * x[i];
        }

        // run += sign * dy*y/scale at offset o.
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly void AddRatio(long o, int len, float* run, float sign)
        {
            float* dy = Dy + o, y = Y + o, sc = Scale + o;
            var vs = Vector256.Create(sign);
            int i = 0;
            for (; i <= len - 8; i += 8)
                Vector256.Store(Vector256.Load(run + i) + vs * (Vector256.Load(dy + i) * Vector256.Load(y + i) / Vector256.Load(sc + i)), run + i);
            for (; i < len; i++) run[i] += sign * (dy[i] * y[i] / sc[i]);
        }
    }
}
