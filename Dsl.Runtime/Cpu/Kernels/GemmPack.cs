using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Dsl.Runtime.Cpu;

/// <summary>Copies blocks of op(A) / op(B) into the zero-padded panel layouts the micro-kernel streams.</summary>
internal static unsafe class GemmPack
{
    /// <summary>Packs op(A)[i0..i0+mc, k0..k0+kc] as ceil(mc/mr) panels, each laid out [kc][mr].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackA(bool transA, float* a, int lda, int i0, int mc, int k0, int kc, float* dst, int mr)
    {
        for (int p = 0; p < mc; p += mr, dst += (long)mr * kc)
        {
            int rows = Math.Min(mr, mc - p);
            if (transA)
            {
                // op(A)(i,k) = A[k*lda + i]: each k contributes mr contiguous floats.
                float* src = a + (long)k0 * lda + i0 + p;
                if (rows == 8 && mr == 8)
                {
                    for (int k = 0; k < kc; k++, src += lda) Vector256.Store(Vector256.Load(src), dst + k * 8);
                    continue;
                }
                for (int k = 0; k < kc; k++, src += lda)
                {
                    float* d = dst + k * mr;
                    int i = 0;
                    for (; i < rows; i++) d[i] = src[i];
                    for (; i < mr; i++) d[i] = 0f;
                }
            }
            else
            {
                // op(A)(i,k) = A[i*lda + k]: a transpose; 8x8 register transposes where the panel allows.
                int k8 = 0;
                if (Avx.IsSupported && rows == mr && mr % 8 == 0)
                    for (; k8 <= kc - 8; k8 += 8)
                        for (int i = 0; i < mr; i += 8)
                            Transpose8x8(a + (long)(i0 + p + i) * lda + k0 + k8, lda, dst + k8 * mr + i, mr);
                for (int i = 0; i < rows; i++)
                {
                    float* src = a + (long)(i0 + p + i) * lda + k0;
                    float* d = dst + i;
                    for (int k = k8; k < kc; k++) d[k * mr] = src[k];
                }
                for (int i = rows; i < mr; i++)
                    for (int k = 0; k < kc; k++) dst[k * mr + i] = 0f;
            }
        }
    }

    /// <summary>Packs op(B)[k0..k0+kc, j0..j0+nc] as ceil(nc/nr) panels, each laid out [kc][nr].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackB(bool transB, float* b, int ldb, int k0, int kc, int j0, int nc, float* dst, int nr)
    {
        for (int q = 0; q < nc; q += nr, dst += (long)nr * kc)
        {
            int cols = Math.Min(nr, nc - q);
            if (!transB)
            {
                // op(B)(k,j) = B[k*ldb + j]: each k contributes nr contiguous floats.
                float* src = b + (long)k0 * ldb + j0 + q;
                if (cols == nr && nr % Vector256<float>.Count == 0)
                {
                    for (int k = 0; k < kc; k++, src += ldb)
                    {
                        float* d = dst + k * nr;
                        for (int j = 0; j < nr; j += Vector256<float>.Count)
                            Vector256.Store(Vector256.Load(src + j), d + j);
                    }
                }
                else
                {
                    for (int k = 0; k < kc; k++, src += ldb)
                    {
                        float* d = dst + k * nr;
                        int j = 0;
                        for (; j < cols; j++) d[j] = src[j];
                        for (; j < nr; j++) d[j] = 0f;
                    }
                }
            }
            else
            {
                // op(B)(k,j) = B[j*ldb + k]: a transpose; 8x8 register transposes where the panel allows.
                // Eight rows of B at a time along k, rather than k outermost across all nr rows: AlexNet's conv1 filter
                // gradient, whose B^T is dy read from memory a block of pixels at a time, 62-63 to 56-57 ms (batch 64).
                int jFull = Avx.IsSupported ? cols / 8 * 8 : 0, k8 = jFull > 0 ? kc / 8 * 8 : 0;
                for (int j = 0; j < jFull; j += 8)
                    for (int k = 0; k < k8; k += 8)
                        Transpose8x8(b + (long)(j0 + q + j) * ldb + k0 + k, ldb, dst + k * nr + j, nr);
                for (int j = 0; j < cols; j++)
                {
                    float* src = b + (long)(j0 + q + j) * ldb + k0;
                    float* d = dst + j;
                    for (int k = j < jFull ? k8 : 0; k < kc; k++) d[k * nr] = src[k];
                }
                for (int j = cols; j < nr; j++)
                    for (int k = 0; k < kc; k++) dst[k * nr + j] = 0f;
            }
        }
    }

    /// <summary>dst[c*ldd + r] = src[r*lds + c] for an 8x8 block.</summary>
    private static void Transpose8x8(float* src, int lds, float* dst, int ldd)
    {
        var r0 = Avx.LoadVector256(src); var r1 = Avx.LoadVector256(src + lds);
        var r2 = Avx.LoadVector256(src + 2L * lds); var r3 = Avx.LoadVector256(src + 3L * lds);
        var r4 = Avx.LoadVector256(src + 4L * lds); var r5 = Avx.LoadVector256(src + 5L * lds);
        var r6 = Avx.LoadVector256(src + 6L * lds); var r7 = Avx.LoadVector256(src + 7L * lds);
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
        var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Store(dst, Avx.Permute2x128(u0, u4, 0x20));
        Avx.Store(dst + ldd, Avx.Permute2x128(u1, u5, 0x20));
        Avx.Store(dst + 2L * ldd, Avx.Permute2x128(u2, u6, 0x20));
        Avx.Store(dst + 3L * ldd, Avx.Permute2x128(u3, u7, 0x20));
        Avx.Store(dst + 4L * ldd, Avx.Permute2x128(u0, u4, 0x31));
        Avx.Store(dst + 5L * ldd, Avx.Permute2x128(u1, u5, 0x31));
        Avx.Store(dst + 6L * ldd, Avx.Permute2x128(u2, u6, 0x31));
        Avx.Store(dst + 7L * ldd, Avx.Permute2x128(u3, u7, 0x31));
    }
}
