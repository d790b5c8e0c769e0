using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Dsl.Runtime.Cpu;

/// <summary>Lowering between one image-group's input planes and the [C*R*S, Ho*Wo] column matrix.</summary>
internal static unsafe class Im2Col
{
    /// <summary>col[(c*R + r)*S + s, oh*Wo + ow] = x[c, oh*sh - ph + r, ow*sw - pw + s] (0 outside the image); rows of
    /// col are <paramref name="ld"/> floats apart (Ho * Wo when 0), so several images can lie side by side.</summary>
    public static void Lower(in ConvGeometry g, float* x, float* col, int ld = 0) => Lower(g, x, col, ld, 0, g.Ho);

    /// <summary>Output rows [oh0, oh1) of the column matrix: col[(c*R + r)*S + s, (oh - oh0)*Wo + ow] as in
    /// <see cref="Lower(in ConvGeometry, float*, float*, int)"/>, rows of col <paramref name="ld"/> floats apart (the
    /// block's pixels when 0).</summary>
    public static void Lower(in ConvGeometry g, float* x, float* col, int ld, int oh0, int oh1)
    {
        var job = new LowerJob { G = g, X = x, Col = col, Ld = ld > 0 ? ld : (oh1 - oh0) * g.Wo, Oh0 = oh0, Oh1 = oh1 };
        int rowFloats = (oh1 - oh0) * g.Wo;
        CpuThreads.For(g.ColRows, Math.Max(1, (1 << 12) / Math.Max(1, rowFloats)), ref job);
    }

    /// <summary>x[c, ih, iw] = sum of the col entries that read it (overwrites x, GroupC planes).</summary>
    public static void Raise(in ConvGeometry g, float* col, float* x)
    {
        var job = new RaiseJob { G = g, X = x, Col = col };
        int planeWork = g.R * g.S * g.Ho * g.Wo;
        CpuThreads.For(g.GroupC, Math.Max(1, (1 << 15) / Math.Max(1, planeWork)), ref job);
    }

    /// <summary>Output columns [lo, hi) whose input column ow*stride - pad + offset lies inside [0, size).</summary>
    private static (int Lo, int Hi) ValidRange(int outSize, int stride, int pad, int offset, int size)
    {
        int first = offset - pad; // input index at ow = 0
        int lo = first >= 0 ? 0 : (-first + stride - 1) / stride;
        int hi = size - first <= 0 ? 0 : Math.Min(outSize, (size - first + stride - 1) / stride);
        return (lo, Math.Max(lo, hi));
    }

    // Rows are short (often 13..55 floats), so inline loops beat a library call per row.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void CopyRow(float* src, float* dst, int n)
    {
        int i = 0;
        for (; i <= n - 8; i += 8) Vector256.Store(Vector256.Load(src + i), dst + i);
        for (; i < n; i++) dst[i] = src[i];
    }

    // Eight at a time by AVX2 gathers, the rest one by one; locals only, so the stride is not reloaded after every store.
    // The gathers took AlexNet's conv1 (11x11, stride 4) from 67 to 57 ms forward and 89 to 79 ms in its filter gradient
    // at batch 64 on 2 threads (Xeon, 2026-12-06).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void StridedRow(float* src, int stride, float* dst, int n)
    {
        int i = 0;
        if (Avx2.IsSupported)
        {
            var index = Vector256<int>.Indices * Vector256.Create(stride);
            for (; i <= n - 8; i += 8, src += 8 * stride) Avx2.GatherVector256(src, index, 4).Store(dst + i);
        }
        for (; i < n; i++, src += stride) dst[i] = *src;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AddRow(float* src, float* dst, int n)
    {
        int i = 0;
        for (; i <= n - 8; i += 8) Vector256.Store(Vector256.Load(dst + i) + Vector256.Load(src + i), dst + i);
        for (; i < n; i++) dst[i] += src[i];
    }

    /// <summary>Column-matrix row (c, r, s) into dst (Ho * Wo floats).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void LowerRow(in ConvGeometry g, float* x, int row, float* dst, int oh0, int oh1)
    {
        int s = row % g.S, r = row / g.S % g.R, c = row / (g.R * g.S);
        int sw = g.StrideW, wo = g.Wo;
        float* plane = x + (long)c * g.H * g.W;
        var (lo, hi) = ValidRange(wo, sw, g.PadW, s, g.W);
        if (sw == 1 && Avx512F.IsSupported)
        {
            UnitStrideRow(g, plane, r, s, lo, hi, dst, oh0, oh1);
            return;
        }
        for (int oh = oh0; oh < oh1; oh++, dst += wo)
        {
            int ih = oh * g.StrideH - g.PadH + r;
            if ((uint)ih >= (uint)g.H)
            {
                new Span<float>(dst, wo).Clear();
                continue;
            }
            float* src = plane + (long)ih * g.W - g.PadW + s;
            for (int ow = 0; ow < lo; ow++) dst[ow] = 0f;
            if (sw == 1)
                CopyRow(src + lo, dst + lo, hi - lo);
            else
                StridedRow(src + (long)lo * sw, sw, dst + lo, hi - lo);
            for (int ow = hi; ow < wo; ow++) dst[ow] = 0f;
        }
    }

    /// <summary>A stride-1 row with masked 16-lane loads and stores: the padding comes out of the masked-off lanes as
    /// zeros (which never touch memory), so a 14-wide output row is one load and one store instead of a loop.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void UnitStrideRow(in ConvGeometry g, float* plane, int r, int s, int lo, int hi, float* dst, int oh0, int oh1)
    {
        int wo = g.Wo;
        var lane = Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        for (int oh = oh0; oh < oh1; oh++, dst += wo)
        {
            int ih = oh * g.StrideH - g.PadH + r;
            bool inside = (uint)ih < (uint)g.H;
            float* src = plane + (long)ih * g.W - g.PadW + s;
            for (int ow = 0; ow < wo; ow += 16)
            {
                var at = lane + Vector512.Create(ow);
                var load = inside ? Vector512.GreaterThanOrEqual(at, Vector512.Create(lo)) & Vector512.LessThan(at, Vector512.Create(hi)) : default;
                var v = Avx512F.MaskLoad(src + ow, load.AsSingle(), Vector512<float>.Zero);
                if (ow + 16 <= wo) Vector512.Store(v, dst + ow);
                else Avx512F.MaskStore(dst + ow, Vector512.LessThan(at, Vector512.Create(wo)).AsSingle(), v);
            }
        }
    }

    private struct LowerJob : IParallelJob
    {
        public ConvGeometry G;
        public float* X, Col;
        public int Ld, Oh0, Oh1;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int begin, int end)
        {
            for (int row = begin; row < end; row++) LowerRow(G, X, row, Col + (long)row * Ld, Oh0, Oh1);
        }
    }

    private struct RaiseJob : IParallelJob
    {
        public ConvGeometry G;
        public float* X, Col;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int begin, int end)
        {
            ref readonly var g = ref G;
            int hw = g.Ho * g.Wo;
            for (int c = begin; c < end; c++)
            {
                float* plane = X + (long)c * g.H * g.W;
                new Span<float>(plane, g.H * g.W).Clear();
                // Fixed (r, s, oh, ow) order per channel: the sums are deterministic.
                for (int r = 0; r < g.R; r++)
                for (int s = 0; s < g.S; s++)
                {
                    float* src = Col + ((long)(c * g.R + r) * g.S + s) * hw;
                    var (lo, hi) = ValidRange(g.Wo, g.StrideW, g.PadW, s, g.W);
                    for (int oh = 0; oh < g.Ho; oh++, src += g.Wo)
                    {
                        int ih = oh * g.StrideH - g.PadH + r;
                        if ((uint)ih >= (uint)g.H) continue;
                        float* dst = plane + (long)ih * g.W - g.PadW + s;
                        if (g.StrideW == 1)
                            AddRow(src + lo, dst + lo, hi - lo);
                        else
                            for (int ow = lo; ow < hi; ow++) dst[ow * g.StrideW] += src[ow];
                    }
                }
            }
        }
    }
}
