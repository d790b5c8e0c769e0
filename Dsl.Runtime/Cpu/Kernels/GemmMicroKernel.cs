using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Dsl.Runtime.Cpu;

/// <summary>Register-blocked MR x NR micro-kernels over packed panels: C = alpha * Apanel * Bpanel + beta * C.</summary>
internal static unsafe class GemmMicroKernel
{
    /// <summary>Rows of C per micro-tile (broadcast dimension).</summary>
    public static readonly int MR = Avx512F.IsSupported ? 8 : Fma.IsSupported ? 6 : 4;

    /// <summary>Columns of C per micro-tile (vector dimension).</summary>
    public static readonly int NR = Avx512F.IsSupported ? 48 : Fma.IsSupported ? 16 : 4;

    private const int MaxTile = 8 * 48;

    /// <summary>Computes an mr x nr tile (mr &lt;= MR, nr &lt;= NR); beta == 0 never reads C. B's rows are
    /// <paramref name="ldb"/> floats apart: NR in a packed panel, or (AVX-512 only) a row-major matrix read in place,
    /// 64-byte aligned, whose rows can be read up to nr rounded up to 16.</summary>
    [SkipLocalsInit, MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Tile(int kc, float* a, float* b, float* c, int ldc, float alpha, float beta, int mr, int nr, int ldb)
    {
        if (mr == MR && nr == NR)
        {
            if (Avx512F.IsSupported) Kernel8x48(kc, a, b, ldb, c, ldc, alpha, beta);
            else Full(kc, a, b, c, ldc, alpha, beta);
            return;
        }
        float* t = stackalloc float[MaxTile];
        if (Avx512F.IsSupported)
        {
            // Narrow edge: 16-column slices of the zero-padded panel, so at most 15 columns are wasted.
            for (int j = 0; j < nr; j += 16)
            {
                int w = Math.Min(16, nr - j);
                if (mr == MR && w == 16) Kernel8x16(kc, a, b + j, ldb, c + j, ldc, alpha, beta);
                else
                {
                    Kernel8x16(kc, a, b + j, ldb, t, 16, alpha, 0f);
                    Merge(t, 16, c + j, ldc, beta, mr, w);
                }
            }
            return;
        }
        // Other ISAs: the panels are zero-padded, so compute a full tile aside and merge the valid part.
        Full(kc, a, b, t, NR, alpha, 0f);
        Merge(t, NR, c, ldc, beta, mr, nr);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Merge(float* t, int ldt, float* c, int ldc, float beta, int mr, int nr)
    {
        for (int i = 0; i < mr; i++)
        {
            float* ci = c + (long)i * ldc, ti = t + i * ldt;
            if (beta == 0f)
                for (int j = 0; j < nr; j++) ci[j] = ti[j];
            else
                for (int j = 0; j < nr; j++) ci[j] = ti[j] + beta * ci[j];
        }
    }

    /// <summary>8 rows x 16 columns read from a 48-wide packed panel (ldb 48) or a matrix.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel8x16(int kc, float* a, float* b, int ldb, float* c, int ldc, float alpha, float beta)
    {
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
        for (int k = 0; k < kc; k++)
        {
            var v = Avx512F.LoadVector512(b);
            c0 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[0]), v, c0);
            c1 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[1]), v, c1);
            c2 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[2]), v, c2);
            c3 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[3]), v, c3);
            c4 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[4]), v, c4);
            c5 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[5]), v, c5);
            c6 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[6]), v, c6);
            c7 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[7]), v, c7);
            a += 8;
            b += ldb;
        }
        var va = Vector512.Create(alpha);
        var vb = Vector512.Create(beta);
        bool readC = beta != 0f;
        Store16(c, va, vb, readC, c0); c += ldc;
        Store16(c, va, vb, readC, c1); c += ldc;
        Store16(c, va, vb, readC, c2); c += ldc;
        Store16(c, va, vb, readC, c3); c += ldc;
        Store16(c, va, vb, readC, c4); c += ldc;
        Store16(c, va, vb, readC, c5); c += ldc;
        Store16(c, va, vb, readC, c6); c += ldc;
        Store16(c, va, vb, readC, c7);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store16(float* c, Vector512<float> va, Vector512<float> vb, bool readC, Vector512<float> r)
    {
        Avx512F.Store(c, readC ? Avx512F.FusedMultiplyAdd(va, r, vb * Avx512F.LoadVector512(c)) : r * va);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Full(int kc, float* a, float* b, float* c, int ldc, float alpha, float beta)
    {
        if (Avx512F.IsSupported) Kernel8x48(kc, a, b, NR, c, ldc, alpha, beta);
        else if (Fma.IsSupported) Kernel6x16(kc, a, b, c, ldc, alpha, beta);
        else Kernel4x4(kc, a, b, c, ldc, alpha, beta);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel8x48(int kc, float* a, float* b, int ldb, float* c, int ldc, float alpha, float beta)
    {
        Vector512<float> c00 = default, c01 = default, c02 = default, c10 = default, c11 = default, c12 = default;
        Vector512<float> c20 = default, c21 = default, c22 = default, c30 = default, c31 = default, c32 = default;
        Vector512<float> c40 = default, c41 = default, c42 = default, c50 = default, c51 = default, c52 = default;
        Vector512<float> c60 = default, c61 = default, c62 = default, c70 = default, c71 = default, c72 = default;
        for (int k = 0; k < kc; k++)
        {
            var b0 = Avx512F.LoadAlignedVector512(b);
            var b1 = Avx512F.LoadAlignedVector512(b + 16);
            var b2 = Avx512F.LoadAlignedVector512(b + 32);
            var x = Vector512.Create(a[0]);
            c00 = Avx512F.FusedMultiplyAdd(x, b0, c00); c01 = Avx512F.FusedMultiplyAdd(x, b1, c01); c02 = Avx512F.FusedMultiplyAdd(x, b2, c02);
            x = Vector512.Create(a[1]);
            c10 = Avx512F.FusedMultiplyAdd(x, b0, c10); c11 = Avx512F.FusedMultiplyAdd(x, b1, c11); c12 = Avx512F.FusedMultiplyAdd(x, b2, c12);
            x = Vector512.Create(a[2]);
            c20 = Avx512F.FusedMultiplyAdd(x, b0, c20); c21 = Avx512F.FusedMultiplyAdd(x, b1, c21); c22 = Avx512F.FusedMultiplyAdd(x, b2, c22);
            x = Vector512.Create(a[3]);
            c30 = Avx512F.FusedMultiplyAdd(x, b0, c30); c31 = Avx512F.FusedMultiplyAdd(x, b1, c31); c32 = Avx512F.FusedMultiplyAdd(x, b2, c32);
            x = Vector512.Create(a[4]);
            c40 = Avx512F.FusedMultiplyAdd(x, b0, c40); c41 = Avx512F.FusedMultiplyAdd(x, b1, c41); c42 = Avx512F.FusedMultiplyAdd(x, b2, c42);
            x = Vector512.Create(a[5]);
            c50 = Avx512F.FusedMultiplyAdd(x, b0, c50); c51 = Avx512F.FusedMultiplyAdd(x, b1, c51); c52 = Avx512F.FusedMultiplyAdd(x, b2, c52);
            x = Vector512.Create(a[6]);
            c60 = Avx512F.FusedMultiplyAdd(x, b0, c60); c61 = Avx512F.FusedMultiplyAdd(x, b1, c61); c62 = Avx512F.FusedMultiplyAdd(x, b2, c62);
            x = Vector512.Create(a[7]);
            c70 = Avx512F.FusedMultiplyAdd(x, b0, c70); c71 = Avx512F.FusedMultiplyAdd(x, b1, c71); c72 = Avx512F.FusedMultiplyAdd(x, b2, c72);
            a += 8;
            b += ldb;
        }
        var va = Vector512.Create(alpha);
        var vb = Vector512.Create(beta);
        bool readC = beta != 0f;
        Store512(c, va, vb, readC, c00, c01, c02); c += ldc;
        Store512(c, va, vb, readC, c10, c11, c12); c += ldc;
        Store512(c, va, vb, readC, c20, c21, c22); c += ldc;
        Store512(c, va, vb, readC, c30, c31, c32); c += ldc;
        Store512(c, va, vb, readC, c40, c41, c42); c += ldc;
        Store512(c, va, vb, readC, c50, c51, c52); c += ldc;
        Store512(c, va, vb, readC, c60, c61, c62); c += ldc;
        Store512(c, va, vb, readC, c70, c71, c72);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store512(float* c, Vector512<float> va, Vector512<float> vb, bool readC,
        Vector512<float> r0, Vector512<float> r1, Vector512<float> r2)
    {
        if (readC)
        {
            r0 = Avx512F.FusedMultiplyAdd(va, r0, vb * Avx512F.LoadVector512(c));
            r1 = Avx512F.FusedMultiplyAdd(va, r1, vb * Avx512F.LoadVector512(c + 16));
            r2 = Avx512F.FusedMultiplyAdd(va, r2, vb * Avx512F.LoadVector512(c + 32));
        }
        else
        {
            r0 *= va; r1 *= va; r2 *= va;
        }
        Avx512F.Store(c, r0);
        Avx512F.Store(c + 16, r1);
        Avx512F.Store(c + 32, r2);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel6x16(int kc, float* a, float* b, float* c, int ldc, float alpha, float beta)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int k = 0; k < kc; k++)
        {
            var b0 = Avx.LoadAlignedVector256(b);
            var b1 = Avx.LoadAlignedVector256(b + 8);
            var x = Vector256.Create(a[0]);
            c00 = Fma.MultiplyAdd(x, b0, c00); c01 = Fma.MultiplyAdd(x, b1, c01);
            x = Vector256.Create(a[1]);
            c10 = Fma.MultiplyAdd(x, b0, c10); c11 = Fma.MultiplyAdd(x, b1, c11);
            x = Vector256.Create(a[2]);
            c20 = Fma.MultiplyAdd(x, b0, c20); c21 = Fma.MultiplyAdd(x, b1, c21);
            x = Vector256.Create(a[3]);
            c30 = Fma.MultiplyAdd(x, b0, c30); c31 = Fma.MultiplyAdd(x, b1, c31);
            x = Vector256.Create(a[4]);
            c40 = Fma.MultiplyAdd(x, b0, c40); c41 = Fma.MultiplyAdd(x, b1, c41);
            x = Vector256.Create(a[5]);
            c50 = Fma.MultiplyAdd(x, b0, c50); c51 = Fma.MultiplyAdd(x, b1, c51);
            a += 6;
            b += 16;
        }
        var va = Vector256.Create(alpha);
        var vb = Vector256.Create(beta);
        bool readC = beta != 0f;
        Store256(c, va, vb, readC, c00, c01); c += ldc;
        Store256(c, va, vb, readC, c10, c11); c += ldc;
        Store256(c, va, vb, readC, c20, c21); c += ldc;
        Store256(c, va, vb, readC, c30, c31); c += ldc;
        Store256(c, va, vb, readC, c40, c41); c += ldc;
        Store256(c, va, vb, readC, c50, c51);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store256(float* c, Vector256<float> va, Vector256<float> vb, bool readC, Vector256<float> r0, Vector256<float> r1)
    {
        if (readC)
        {
            r0 = Fma.MultiplyAdd(va, r0, vb * Avx.LoadVector256(c));
            r1 = Fma.MultiplyAdd(va, r1, vb * Avx.LoadVector256(c + 8));
        }
        else
        {
            r0 *= va; r1 *= va;
        }
        Avx.Store(c, r0);
        Avx.Store(c + 8, r1);
    }

    private static void Kernel4x4(int kc, float* a, float* b, float* c, int ldc, float alpha, float beta)
    {
        float* acc = stackalloc float[16];
        for (int i = 0; i < 16; i++) acc[i] = 0f;
        for (int k = 0; k < kc; k++, a += 4, b += 4)
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 4; j++)
                    acc[i * 4 + j] = MathF.FusedMultiplyAdd(a[i], b[j], acc[i * 4 + j]);
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++)
                c[(long)i * ldc + j] = beta == 0f ? alpha * acc[i * 4 + j] : alpha * acc[i * 4 + j] + beta * c[(long)i * ldc + j];
    }
}
