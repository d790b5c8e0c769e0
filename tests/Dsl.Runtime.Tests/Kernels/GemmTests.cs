using System;
using System.Linq;
using Dsl.Runtime.Cpu;
using FsCheck;
using FsCheck.Fluent;
using Xunit;
using static Dsl.Runtime.Tests.Kernels.Reference;

namespace Dsl.Runtime.Tests.Kernels;

public unsafe class GemmTests
{
    private static readonly int[] Sizes = [1, 7, 33, 129, 257];

    private static double[] Naive(bool ta, bool tb, int M, int N, int K, double alpha, float[] A, int lda, float[] B, int ldb, double beta, float[] C, int ldc)
    {
        var r = C.Select(v => (double)v).ToArray();
        for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++)
        {
            double s = 0;
            for (int k = 0; k < K; k++)
                s += (double)(ta ? A[k * lda + i] : A[i * lda + k]) * (tb ? B[j * ldb + k] : B[k * ldb + j]);
            r[i * ldc + j] = alpha * s + beta * C[i * ldc + j];
        }
        return r;
    }

    private static float[] Run(bool ta, bool tb, int M, int N, int K, float alpha, float[] A, int lda, float[] B, int ldb, float beta, float[] C0, int ldc)
    {
        var C = (float[])C0.Clone();
        fixed (float* a = A, b = B, c = C) Gemm.Sgemm(ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc);
        return C;
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void MatchesNaiveOnOddShapesWithPaddedStrides(bool ta, bool tb)
    {
        var rnd = new Random(ta ? 11 : 12 + (tb ? 5 : 0));
        foreach (int M in Sizes)
        foreach (int N in Sizes)
        foreach (int K in Sizes)
        {
            if ((long)M * N * K > 2_000_000 && rnd.Next(3) != 0) continue; // the full cube is slow in the naive loop
            int lda = (ta ? M : K) + rnd.Next(0, 5), ldb = (tb ? K : N) + rnd.Next(0, 5), ldc = N + rnd.Next(0, 5);
            var A = Rand(rnd, (ta ? K : M) * lda);
            var B = Rand(rnd, (tb ? N : K) * ldb);
            var C = Rand(rnd, M * ldc);
            float alpha = 0.75f, beta = rnd.Next(2) == 0 ? 0f : -1.5f;
            var got = Run(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
            var want = Naive(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
            double err = RelErr(got, want);
            Assert.True(err < 1e-5, $"{ta}{tb} M={M} N={N} K={K}: rel err {err}");
            // the padding columns of C beyond N must be untouched
            for (int i = 0; i < M; i++)
            for (int j = N; j < ldc; j++)
                Assert.Equal(C[i * ldc + j], got[i * ldc + j]);
        }
    }

    [Fact]
    public void RandomShapesPropertyMatchesNaive()
    {
        // FsCheck picks transposes, sizes, extra leading-dimension padding and alpha/beta; shrinking reports a minimal shape.
        var shapes =
            from ta in Gen.Elements(false, true)
            from tb in Gen.Elements(false, true)
            from m in Gen.Choose(1, 70)
            from n in Gen.Choose(1, 130)
            from k in Gen.Choose(1, 90)
            from pad in Gen.Choose(0, 3)
            from beta in Gen.Elements(0f, 1f, 0.5f)
            select (ta, tb, m, n, k, pad, beta);
        Prop.ForAll(Arb.From(shapes), s =>
        {
            var (ta, tb, M, N, K, pad, beta) = s;
            var rnd = new Random(M * 7919 + N * 31 + K);
            int lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
            var A = Rand(rnd, (ta ? K : M) * lda);
            var B = Rand(rnd, (tb ? N : K) * ldb);
            var C = Rand(rnd, M * ldc);
            var got = Run(ta, tb, M, N, K, -1.25f, A, lda, B, ldb, beta, C, ldc);
            return RelErr(got, Naive(ta, tb, M, N, K, -1.25f, A, lda, B, ldb, beta, C, ldc)) < 1e-5;
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void BetaZeroIgnoresNaNInC()
    {
        var rnd = new Random(3);
        var A = Rand(rnd, 9 * 50);
        var B = Rand(rnd, 50 * 60);
        var C = Enumerable.Repeat(float.NaN, 9 * 60).ToArray();
        var got = Run(false, false, 9, 60, 50, 1f, A, 50, B, 60, 0f, C, 60);
        Assert.True(got.All(float.IsFinite));
    }

    [Fact]
    public void KZeroScalesC()
    {
        var C = new float[] { 1, 2, 3, 4 };
        var got = Run(false, false, 2, 2, 0, 1f, [0f], 1, [0f], 2, 0.5f, C, 2);
        Assert.Equal(new float[] { 0.5f, 1, 1.5f, 2 }, got);
    }

    [Fact]
    public void IsBitIdenticalAcrossRunsAndThreadCounts()
    {
        var rnd = new Random(5);
        int M = 200, N = 700, K = 900;
        var A = Rand(rnd, M * K);
        var B = Rand(rnd, K * N);
        var C = new float[M * N];
        var first = Run(false, true, M, N, K, 1f, A, K, B, K, 0f, C, N);
        var second = Run(false, true, M, N, K, 1f, A, K, B, K, 0f, C, N);
        Assert.Equal(first, second);
        int saved = CpuThreads.Count;
        try
        {
            CpuThreads.Count = 1;
            Assert.Equal(first, Run(false, true, M, N, K, 1f, A, K, B, K, 0f, C, N));
            CpuThreads.Count = 3;
            Assert.Equal(first, Run(false, true, M, N, K, 1f, A, K, B, K, 0f, C, N));
        }
        finally
        {
            CpuThreads.Count = saved;
        }
    }
}
