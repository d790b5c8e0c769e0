using System;
using System.Numerics.Tensors;

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

    private struct Job : IParallelJob
    {
        public int C, HW, Half, Chunks;
        public float Alpha, Beta, K;
        public float* X, Y, Scale, Dy, Dx; // Dy == null: forward

        public void Run(int begin, int end)
        {
            float* tmp = stackalloc float[Chunk];
            float* run = stackalloc float[Chunk];
            for (int item = begin; item < end; item++)
            {
                int n = item / Chunks, h0 = item % Chunks * Chunk, len = Math.Min(Chunk, HW - h0);
                long b = (long)n * C * HW + h0;
                if (Dy == null) ForwardItem(b, len, tmp);
                else BackwardItem(b, len, tmp, run);
            }
        }

        // Window of channel c is [c - Half, c + Half]; sliding by one adds channel c + Half and drops c - Half - 1.
        private readonly void ForwardItem(long b, int len, float* sq)
        {
            var s0 = new Span<float>(Scale + b, len);
            s0.Clear();
            for (int j = 0; j <= Math.Min(Half, C - 1); j++) AddSquares(X + b + (long)j * HW, s0, sq, len, 1f);
            for (int c = 1; c < C; c++)
            {
                var s = new Span<float>(Scale + b + (long)c * HW, len);
                new ReadOnlySpan<float>(Scale + b + (long)(c - 1) * HW, len).CopyTo(s);
                if (c + Half < C) AddSquares(X + b + (long)(c + Half) * HW, s, sq, len, 1f);
                if (c - Half - 1 >= 0) AddSquares(X + b + (long)(c - Half - 1) * HW, s, sq, len, -1f);
            }
            for (int c = 0; c < C; c++)
            {
                long o = b + (long)c * HW;
                var s = new Span<float>(Scale + o, len);
                TensorPrimitives.Multiply(s, Alpha, s);
                TensorPrimitives.Add(s, K, s); // scale = k + alpha * sum
                var yo = new Span<float>(Y + o, len);
                PowNeg(s, Beta, yo);
                TensorPrimitives.Multiply(new ReadOnlySpan<float>(X + o, len), yo, yo);
            }
        }

        // dx_j = dy_j * scale_j^-beta - 2*alpha*beta * x_j * sum_{c in window(j)} dy_c * y_c / scale_c
        private readonly void BackwardItem(long b, int len, float* t, float* run)
        {
            var r = new Span<float>(run, len);
            r.Clear();
            for (int j = 0; j <= Math.Min(Half, C - 1); j++) AddRatio(b + (long)j * HW, r, t, len, 1f);
            float coef = -2f * Alpha * Beta;
            for (int c = 0; c < C; c++)
            {
                if (c > 0)
                {
                    if (c + Half < C) AddRatio(b + (long)(c + Half) * HW, r, t, len, 1f);
                    if (c - Half - 1 >= 0) AddRatio(b + (long)(c - Half - 1) * HW, r, t, len, -1f);
                }
                long o = b + (long)c * HW;
                var dx = new Span<float>(Dx + o, len);
                var p = new Span<float>(t, len);
                PowNeg(new ReadOnlySpan<float>(Scale + o, len), Beta, p);
                TensorPrimitives.Multiply(new ReadOnlySpan<float>(Dy + o, len), p, p);
                TensorPrimitives.Multiply(new ReadOnlySpan<float>(X + o, len), r, dx);
                TensorPrimitives.MultiplyAdd(dx, coef, p, dx);
            }
        }

        private readonly void AddRatio(long o, Span<float> run, float* t, int len, float sign)
        {
            var ts = new Span<float>(t, len);
            TensorPrimitives.Multiply(new ReadOnlySpan<float>(Dy + o, len), new ReadOnlySpan<float>(Y + o, len), ts);
            TensorPrimitives.Divide(ts, new ReadOnlySpan<float>(Scale + o, len), ts);
            TensorPrimitives.MultiplyAdd(ts, sign, run, run);
        }

        private static void AddSquares(float* x, Span<float> acc, float* sq, int len, float sign)
        {
            var s = new Span<float>(sq, len);
            var xs = new ReadOnlySpan<float>(x, len);
            TensorPrimitives.Multiply(xs, xs, s);
            TensorPrimitives.MultiplyAdd(s, sign, acc, acc);
        }

        // dst = s^-beta computed as exp(-beta * log s).
        private static void PowNeg(ReadOnlySpan<float> s, float beta, Span<float> dst)
        {
            TensorPrimitives.Log(s, dst);
            TensorPrimitives.Multiply(dst, -beta, dst);
            TensorPrimitives.Exp(dst, dst);
        }
    }
}
