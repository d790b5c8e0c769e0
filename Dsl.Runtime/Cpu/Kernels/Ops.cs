using System;
using System.Numerics.Tensors;

namespace Dsl.Runtime.Cpu;

/// <summary>A pointwise job over a contiguous run [begin, begin + count) of a long index space.</summary>
public interface IChunkJob
{
    /// <summary>Processes indices [begin, begin + count).</summary>
    void Run(long begin, int count);
}

/// <summary>Small elementwise helpers and the long-range parallel loop they share.</summary>
public static unsafe class Ops
{
    private const int Grain = 1 << 16;
    private const int MaxRun = 1 << 24;

    /// <summary>Runs job over [0, n) split statically into one contiguous range per thread (at least grain items each).</summary>
    public static void ForChunks<T>(long n, int grain, ref T job) where T : unmanaged, IChunkJob
    {
        if (n <= 0) return;
        int parts = (int)Math.Min(CpuThreads.Count, (n + grain - 1) / grain);
        var adapter = new RangeJob<T> { N = n, Parts = parts, Job = (T*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref job) };
        CpuThreads.For(parts, 1, ref adapter);
    }

    /// <summary>y[i] = value.</summary>
    public static void Fill(float* y, float value, long n)
    {
        var job = new FillJob { Y = y, V = value };
        ForChunks(n, Grain, ref job);
    }

    /// <summary>y[i] = x[i].</summary>
    public static void Copy(float* x, float* y, long n)
    {
        var job = new CopyJob { X = x, Y = y };
        ForChunks(n, Grain, ref job);
    }

    /// <summary>y[i] = a[i] + b[i]; y may alias a or b.</summary>
    public static void Add(float* a, float* b, float* y, long n)
    {
        var job = new AddJob { A = a, B = b, Y = y };
        ForChunks(n, Grain, ref job);
    }

    /// <summary>y[i] = a[i] * b[i]; y may alias a or b.</summary>
    public static void Multiply(float* a, float* b, float* y, long n)
    {
        var job = new MultiplyJob { A = a, B = b, Y = y };
        ForChunks(n, Grain, ref job);
    }

    /// <summary>y[i] = alpha * x[i]; y may alias x.</summary>
    public static void Scale(float alpha, float* x, float* y, long n)
    {
        var job = new ScaleJob { Alpha = alpha, X = x, Y = y };
        ForChunks(n, Grain, ref job);
    }

    private struct RangeJob<T> : IParallelJob where T : unmanaged, IChunkJob
    {
        public long N;
        public int Parts;
        public T* Job;

        public void Run(int begin, int end)
        {
            long b = N * begin / Parts, e = N * end / Parts;
            for (long i = b; i < e; i += MaxRun) Job->Run(i, (int)Math.Min(MaxRun, e - i));
        }
    }

    private struct FillJob : IChunkJob
    {
        public float* Y;
        public float V;
        public void Run(long begin, int count) => new Span<float>(Y + begin, count).Fill(V);
    }

    private struct CopyJob : IChunkJob
    {
        public float* X, Y;
        public void Run(long begin, int count) => new ReadOnlySpan<float>(X + begin, count).CopyTo(new Span<float>(Y + begin, count));
    }

    private struct AddJob : IChunkJob
    {
        public float* A, B, Y;
        public void Run(long begin, int count) =>
            TensorPrimitives.Add(new ReadOnlySpan<float>(A + begin, count), new ReadOnlySpan<float>(B + begin, count), new Span<float>(Y + begin, count));
    }

    private struct MultiplyJob : IChunkJob
    {
        public float* A, B, Y;
        public void Run(long begin, int count) =>
            TensorPrimitives.Multiply(new ReadOnlySpan<float>(A + begin, count), new ReadOnlySpan<float>(B + begin, count), new Span<float>(Y + begin, count));
    }

    private struct ScaleJob : IChunkJob
    {
        public float Alpha;
        public float* X, Y;
        public void Run(long begin, int count) =>
            TensorPrimitives.Multiply(new ReadOnlySpan<float>(X + begin, count), Alpha, new Span<float>(Y + begin, count));
    }
}
