using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Dsl.Runtime.Cpu;

/// <summary>This machine's FP32 peak as measured, not as the data sheet says: every thread runs twelve independent chains
/// of packed fused multiply-adds at the widest vector width the CPU has, enough chains to cover the FMA latency on each
/// port, for a fixed time; FLOPs = 2 x lanes x FMAs.</summary>
public static class FmaPeak
{
    const int Chains = 12;

    /// <summary>GFLOP/s of <paramref name="threads"/> threads together, each running for about <paramref name="seconds"/>.</summary>
    public static double Measure(int threads, double seconds = 0.3)
    {
        Loop(1000); // JIT and warm the core up before the clock starts
        long iterations = 0;
        var start = new ManualResetEventSlim();
        var workers = Enumerable.Range(0, threads).Select(_ => new Thread(() =>
        {
            start.Wait();
            long done = 0;
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed.TotalSeconds < seconds) { Loop(1 << 16); done += 1 << 16; }
            Interlocked.Add(ref iterations, done);
        })).ToArray();
        foreach (var w in workers) w.Start();
        var wall = Stopwatch.StartNew();
        start.Set();
        foreach (var w in workers) w.Join();
        return iterations * Chains * Lanes * 2.0 / wall.Elapsed.TotalSeconds / 1e9;
    }

    /// <summary>FP32 lanes of the vectors the loop uses.</summary>
    public static int Lanes => Avx512F.IsSupported ? 16 : Fma.IsSupported ? 8 : Vector128<float>.Count;

    /// <summary>What the measurement runs, for reports.</summary>
    public static string Method => $"{Chains} independent chains of {Lanes}-lane FMAs per thread";

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    static float Loop(long iterations)
    {
        if (Avx512F.IsSupported) return Chains512(iterations);
        if (Fma.IsSupported) return Chains256(iterations);
        return Chains128(iterations);
    }

    // Twelve accumulators in registers; m, x near 1 and 0 keep them finite.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static float Chains512(long n)
    {
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default;
        Vector512<float> a6 = default, a7 = default, a8 = default, a9 = default, a10 = default, a11 = default;
        var m = Vector512.Create(0.999f);
        var x = Vector512.Create(1e-6f);
        for (long i = 0; i < n; i++)
        {
            a0 = Avx512F.FusedMultiplyAdd(a0, m, x); a1 = Avx512F.FusedMultiplyAdd(a1, m, x); a2 = Avx512F.FusedMultiplyAdd(a2, m, x);
            a3 = Avx512F.FusedMultiplyAdd(a3, m, x); a4 = Avx512F.FusedMultiplyAdd(a4, m, x); a5 = Avx512F.FusedMultiplyAdd(a5, m, x);
            a6 = Avx512F.FusedMultiplyAdd(a6, m, x); a7 = Avx512F.FusedMultiplyAdd(a7, m, x); a8 = Avx512F.FusedMultiplyAdd(a8, m, x);
            a9 = Avx512F.FusedMultiplyAdd(a9, m, x); a10 = Avx512F.FusedMultiplyAdd(a10, m, x); a11 = Avx512F.FusedMultiplyAdd(a11, m, x);
        }
        return Vector512.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static float Chains256(long n)
    {
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default;
        Vector256<float> a6 = default, a7 = default, a8 = default, a9 = default, a10 = default, a11 = default;
        var m = Vector256.Create(0.999f);
        var x = Vector256.Create(1e-6f);
        for (long i = 0; i < n; i++)
        {
            a0 = Fma.MultiplyAdd(a0, m, x); a1 = Fma.MultiplyAdd(a1, m, x); a2 = Fma.MultiplyAdd(a2, m, x);
            a3 = Fma.MultiplyAdd(a3, m, x); a4 = Fma.MultiplyAdd(a4, m, x); a5 = Fma.MultiplyAdd(a5, m, x);
            a6 = Fma.MultiplyAdd(a6, m, x); a7 = Fma.MultiplyAdd(a7, m, x); a8 = Fma.MultiplyAdd(a8, m, x);
            a9 = Fma.MultiplyAdd(a9, m, x); a10 = Fma.MultiplyAdd(a10, m, x); a11 = Fma.MultiplyAdd(a11, m, x);
        }
        return Vector256.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
    }

    // Without FMA the loop counts a multiply and an add as the two FLOPs of one FMA.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static float Chains128(long n)
    {
        Vector128<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default;
        Vector128<float> a6 = default, a7 = default, a8 = default, a9 = default, a10 = default, a11 = default;
        var m = Vector128.Create(0.999f);
        var x = Vector128.Create(1e-6f);
        for (long i = 0; i < n; i++)
        {
            a0 = a0 * m + x; a1 = a1 * m + x; a2 = a2 * m + x; a3 = a3 * m + x; a4 = a4 * m + x; a5 = a5 * m + x;
            a6 = a6 * m + x; a7 = a7 * m + x; a8 = a8 * m + x; a9 = a9 * m + x; a10 = a10 * m + x; a11 = a11 * m + x;
        }
        return Vector128.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
    }
}
