using System;
using System.Runtime.Intrinsics;

namespace Dsl.Runtime.Cpu;

/// <summary>Lowering between one image-group's input planes and the [C*R*S, Ho*Wo] column matrix.</summary>
internal static unsafe class Im2Col
{
    /// <summary>col[(c*R + r)*S + s, oh*Wo + ow] = x[c, oh*sh - ph + r, ow*sw - pw + s] (0 outside the image).</summary>
    public static void Lower(in ConvGeometry g, float* x, float* col)
    {
        var job = new LowerJob { G = g, X = x, Col = col };
        int rowFloats = g.Ho * g.Wo;
        CpuThreads.For(g.ColRows, Math.Max(1, (1 << 15) / Math.Max(1, rowFloats)), ref job);
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
    private static void CopyRow(float* src, float* dst, int n)
    {
        int i = 0;
        for (; i <= n - 8; i += 8) Vector256.Store(Vector256.Load(src + i), dst + i);
        for (; i < n; i++) dst[i] = src[i];
    }

    private static void AddRow(float* src, float* dst, int n)
    {
        int i = 0;
        for (; i <= n - 8; i += 8) Vector256.Store(Vector256.Load(dst + i) + Vector256.Load(src + i), dst + i);
        for (; i < n; i++) dst[i] += src[i];
    }

    private struct LowerJob : IParallelJob
    {
        public ConvGeometry G;
        public float* X, Col;

        public void Run(int begin, int end)
        {
            ref readonly var g = ref G;
            int hw = g.Ho * g.Wo;
            for (int row = begin; row < end; row++)
            {
                int s = row % g.S, r = row / g.S % g.R, c = row / (g.R * g.S);
                float* plane = X + (long)c * g.H * g.W;
                float* dst = Col + (long)row * hw;
                var (lo, hi) = ValidRange(g.Wo, g.StrideW, g.PadW, s, g.W);
                for (int oh = 0; oh < g.Ho; oh++, dst += g.Wo)
                {
                    int ih = oh * g.StrideH - g.PadH + r;
                    if ((uint)ih >= (uint)g.H)
                    {
                        new Span<float>(dst, g.Wo).Clear();
                        continue;
                    }
                    float* src = plane + (long)ih * g.W - g.PadW + s;
                    for (int ow = 0; ow < lo; ow++) dst[ow] = 0f;
                    if (g.StrideW == 1)
                        CopyRow(src + lo, dst + lo, hi - lo);
                    else
                        for (int ow = lo; ow < hi; ow++) dst[ow] = src[ow * g.StrideW];
                    for (int ow = hi; ow < g.Wo; ow++) dst[ow] = 0f;
                }
            }
        }
    }

    private struct RaiseJob : IParallelJob
    {
        public ConvGeometry G;
        public float* X, Col;

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
