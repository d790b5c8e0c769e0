using System;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Dsl.Runtime.Cpu;

/// <summary>The forward pass of a same-padded stride-1 convolution on one small image (rows of 16, 8, 4 or 2 pixels, 64
/// at most: CIFAR's 8x8 layers at batch 1), computed directly: eight output channels by two vectors of
/// 16 pixels in registers. A vector holds whole output rows, so each tap's inputs are one load at a fixed offset in the
/// flat image, its lanes past the image's edges masked to zero: no padded copy and no lane wasted.</summary>
/// <remarks>At batch 1 such layers have 4 tiles of F(2x2), too few for F(4x4): the products ran on the GEMM's narrow
/// kernel over weights transformed to 1.8 times the filters' size, and the inputs' transforms were made twice (a
/// thread each) or crossed between the cores. Here each thread computes its own output channels from the image and its
/// own filters (which stay in its core's cache from one inference to the next), and nothing else crosses. Each output is
/// one FMA chain over (tap, channel), so the bits do not depend on the thread count.</remarks>
internal static unsafe class SmallImageConv
{
    const int Channels = 8, Lanes = 16;

    /// <summary>Most pixels this path takes: on 8x8 images it was ahead of Winograd (cifar-bn's 64->128 and 128->128
    /// layers at batch 1: 30 and 56 µs against 41 and 67 among the network's other layers), on 16x16 behind (33 and 63
    /// against 27 and 43: F(4x4) has 16 tiles there, four times fewer multiplies).</summary>
    const int MaxPixels = 64;

    /// <summary>Whether this path takes g on this CPU: one image, one group, stride 1, odd filters padded to keep the
    /// image's size, rows of 16 pixels or a divisor of 16, a multiple of 32 pixels and at most 64, more taps than
    /// <see cref="DirectConv"/> takes, and at least one block of eight output channels.</summary>
    public static bool Takes(in ConvGeometry g) =>
        Avx512F.IsSupported && g.N == 1 && g.Groups == 1 && g.StrideH == 1 && g.StrideW == 1 && g.R % 2 == 1 && g.S % 2 == 1 &&
        g.PadH == g.R / 2 && g.PadW == g.S / 2 && g.Ho == g.H && g.Wo == g.W && g.W <= Lanes && Lanes % g.W == 0 &&
        g.H * g.W % (2 * Lanes) == 0 && g.H * g.W <= MaxPixels && g.ColRows > DirectConv.MaxTaps && g.K >= Channels;

    static int Blocks(in ConvGeometry g) => (g.K + Channels - 1) / Channels;

    /// <summary>Floats of the weights in this path's order (per block of eight output channels, per tap, per input
    /// channel, the eight; zeros past K); 0 where it does not take g.</summary>
    public static long PackedFloats(in ConvGeometry g) => Takes(g) ? (long)Blocks(g) * Channels * g.ColRows : 0;

    /// <summary>Writes w in this path's order into packed (<see cref="PackedFloats"/>), split between threads.</summary>
    public static void Prepare(in ConvGeometry g, float* w, float* packed)
    {
        var job = new PackJob { G = g, W = w, Packed = packed };
        CpuThreads.For(Blocks(g), 1, ref job);
    }

    struct PackJob : IParallelJob
    {
        public ConvGeometry G;
        public float* W, Packed;

        public readonly void Run(int begin, int end)
        {
            for (int b = begin; b < end; b++) Pack(G, W, Packed, b);
        }
    }

    /// <summary>Block b's filters: packed[b][tap][c][j] = w[8b + j][c][tap].</summary>
    static void Pack(in ConvGeometry g, float* w, float* packed, int b)
    {
        int taps = g.R * g.S, crs = g.ColRows;
        float* dst = packed + (long)b * Channels * crs;
        for (int t = 0; t < taps; t++)
        for (int c = 0; c < g.C; c++)
        for (int j = 0; j < Channels; j++)
        {
            int k = b * Channels + j;
            *dst++ = k < g.K ? w[(long)k * crs + c * taps + t] : 0f;
        }
    }

    /// <summary>Whether a following `maxpool 2` can be taken from this path's blocks: even sizes, and an activation that
    /// commutes with max.</summary>
    public static bool Pools(in ConvGeometry g, Activation act) => DirectConv.Pools(g, act);

    /// <summary>y = act(conv(x, w) * scale + bias) where this path takes g; returns whether it ran. With
    /// <paramref name="prepared"/> (from <see cref="Prepare"/>) w is not read; without, each thread packs its own blocks
    /// into the workspace (<see cref="PackedFloats"/>) first. With <paramref name="pooled"/>, where <see cref="Pools"/>,
    /// y is not written but its 2x2 maxima are, into pooled.</summary>
    [SkipLocalsInit]
    public static bool TryForward(in ConvGeometry g, float* x, float* w, float* prepared, float* bias, float* scale, float* y,
        Activation act, float actParam, float* workspace, long workspaceFloats, float* pooled = null)
    {
        if (!Takes(g) || prepared == null && workspaceFloats < PackedFloats(g)) return false;
        int taps = g.R * g.S, vectors = g.H * g.W / Lanes, shift = BitOperations.Log2((uint)g.W);
        // Per vector and tap, the lanes whose input lies inside the image (W is a power of 2).
        var masks = stackalloc Vector512<float>[vectors * taps];
        for (int v = 0; v < vectors; v++)
        {
            var q = Vector512<int>.Indices + Vector512.Create(v * Lanes);
            Vector512<int> oh = Vector512.ShiftRightArithmetic(q, shift), ow = q & Vector512.Create(g.W - 1);
            for (int t = 0; t < taps; t++)
            {
                var row = oh + Vector512.Create(t / g.S - g.PadH);
                var col = ow + Vector512.Create(t % g.S - g.PadW);
                masks[v * taps + t] = (Vector512.GreaterThanOrEqual(row, Vector512<int>.Zero) & Vector512.LessThan(row, Vector512.Create(g.H)) &
                    Vector512.GreaterThanOrEqual(col, Vector512<int>.Zero) & Vector512.LessThan(col, Vector512.Create(g.W))).AsSingle();
            }
        }
        var above = PairsAbove(g);
        var job = new Job
        {
            G = g, X = x, W = w, Packed = prepared != null ? prepared : workspace, Pack = prepared == null, Y = y, Masks = masks,
            Pooled = pooled != null && Pools(g, act) ? pooled : null,
            PoolTop = above, PoolBottom = above + Vector512.Create(g.W / 2),
            Epilogue = new GemmEpilogue(bias, null, act, actParam, scale),
        };
        // Static shares: a thread keeps the same output channels, and so the same filters, from one call to the next.
        CpuThreads.For(Blocks(g), 1, ref job);
        return true;
    }

    /// <summary>For pooled value i of a block (its 32 pixels' 8 maxima), the lane of the column pairs' maxima in the
    /// upper of its two rows: pair lane j is row 2j / W, column pair j mod W/2, and pooled value i takes rows
    /// 2 (i / (W/2)) and the next. Lanes past the eighth are not stored.</summary>
    static Vector512<int> PairsAbove(in ConvGeometry g)
    {
        if (g.W < 2) return default;
        var i = Vector512<int>.Indices;
        int half = g.W / 2;
        var row = Vector512.ShiftRightArithmetic(i, BitOperations.Log2((uint)half));
        return (Vector512.ShiftLeft(row, BitOperations.Log2((uint)g.W)) + (i & Vector512.Create(half - 1))) & Vector512.Create(Lanes - 1);
    }

    private struct Job : IParallelJob
    {
        public ConvGeometry G;
        public float* X, W, Packed, Y, Pooled;
        public Vector512<float>* Masks;
        public Vector512<int> PoolTop, PoolBottom;
        public bool Pack;
        public GemmEpilogue Epilogue;

        public void Run(int begin, int end)
        {
            int hw = G.H * G.W;
            for (int b = begin; b < end; b++)
            {
                if (Pack) SmallImageConv.Pack(G, W, Packed, b);
                for (int v = 0; v < hw / Lanes; v += 2) Block(b, v);
                if (!Epilogue.FusesActivation && Pooled == null) // afterwards: a call beside the accumulators would have them spilled
                    for (int k = b * Channels; k < Math.Min(G.K, (b + 1) * Channels); k++)
                        Activations.Apply(Epilogue.Act, Epilogue.ActParam, Y + (long)k * hw, Y + (long)k * hw, hw);
            }
        }

        /// <summary>Output channels 8b.. of pixels 16v..16v + 31.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        readonly void Block(int b, int v)
        {
            int taps = G.R * G.S, c = G.C, hw = G.H * G.W, k0 = b * Channels;
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
            Vector512<float> b0 = default, b1 = default, b2 = default, b3 = default, b4 = default, b5 = default, b6 = default, b7 = default;
            var zero = Vector512<float>.Zero;
            float* wt = Packed + (long)b * Channels * G.ColRows;
            // On the first pixel block, a line of the next block's filters a step into L2 (the same line again where
            // there is none): in a network they come from L3, other layers having passed through L2 since the last call.
            // cifar-bn at batch 1: conv5 34.5 to 32.4 µs, conv6 60.5 to 58.
            long ahead = v == 0 && b + 1 < Blocks(G) ? (long)Channels * G.ColRows : 0;
            for (int t = 0; t < taps; t++)
            {
                var m0 = Masks[v * taps + t];
                var m1 = Masks[(v + 1) * taps + t];
                float* src = X + v * Lanes + (t / G.S - G.PadH) * G.W + (t % G.S - G.PadW);
                // Two channels an iteration: so written, the JIT keeps the tap's masks in mask registers for the whole
                // loop; with one, it converted them from vectors before every load, on the FMA ports (conv6 of cifar-bn
                // at batch 1: 130 µs on one thread, against 106).
                int i = 0;
                for (; i + 2 <= c; i += 2, src += 2 * hw, wt += 2 * Channels)
                {
                    var u = Avx512F.MaskLoad(src, m0, zero);
                    var u2 = Avx512F.MaskLoad(src + hw, m0, zero);
                    var s = Avx512F.MaskLoad(src + Lanes, m1, zero);
                    var s2 = Avx512F.MaskLoad(src + hw + Lanes, m1, zero);
                    Sse.Prefetch1(wt + ahead);
                    DirectConv.MultiplyAdd(wt, u, s, ref a0, ref a1, ref a2, ref a3, ref a4, ref a5, ref a6, ref a7, ref b0, ref b1, ref b2, ref b3, ref b4, ref b5, ref b6, ref b7);
                    DirectConv.MultiplyAdd(wt + Channels, u2, s2, ref a0, ref a1, ref a2, ref a3, ref a4, ref a5, ref a6, ref a7, ref b0, ref b1, ref b2, ref b3, ref b4, ref b5, ref b6, ref b7);
                }
                if (i < c)
                {
                    DirectConv.MultiplyAdd(wt, Avx512F.MaskLoad(src, m0, zero), Avx512F.MaskLoad(src + Lanes, m1, zero),
                        ref a0, ref a1, ref a2, ref a3, ref a4, ref a5, ref a6, ref a7, ref b0, ref b1, ref b2, ref b3, ref b4, ref b5, ref b6, ref b7);
                    wt += Channels;
                }
            }
            int rows = Math.Min(Channels, G.K - k0);
            if (Pooled != null)
            {
                float* p = Pooled + (long)k0 * hw / 4 + v * Lanes / 4;
                PoolStore(p, a0, b0, k0);
                if (rows > 1) PoolStore(p + hw / 4, a1, b1, k0 + 1);
                if (rows > 2) PoolStore(p + 2 * hw / 4, a2, b2, k0 + 2);
                if (rows > 3) PoolStore(p + 3 * hw / 4, a3, b3, k0 + 3);
                if (rows > 4) PoolStore(p + 4 * hw / 4, a4, b4, k0 + 4);
                if (rows > 5) PoolStore(p + 5 * hw / 4, a5, b5, k0 + 5);
                if (rows > 6) PoolStore(p + 6 * hw / 4, a6, b6, k0 + 6);
                if (rows > 7) PoolStore(p + 7 * hw / 4, a7, b7, k0 + 7);
                return;
            }
            float* o = Y + (long)k0 * hw + v * Lanes;
            Store(o, a0, b0, k0);
            if (rows > 1) Store(o + hw, a1, b1, k0 + 1);
            if (rows > 2) Store(o + 2L * hw, a2, b2, k0 + 2);
            if (rows > 3) Store(o + 3L * hw, a3, b3, k0 + 3);
            if (rows > 4) Store(o + 4L * hw, a4, b4, k0 + 4);
            if (rows > 5) Store(o + 5L * hw, a5, b5, k0 + 5);
            if (rows > 6) Store(o + 6L * hw, a6, b6, k0 + 6);
            if (rows > 7) Store(o + 7L * hw, a7, b7, k0 + 7);
        }

        /// <summary>Channel k's 2x2 maxima of a block's 32 pixels (whole rows: 8 maxima, consecutive in the pooled
        /// plane), after the epilogue: first each pair of columns, then each pair of rows.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        readonly void PoolStore(float* p, Vector512<float> lo, Vector512<float> hi, int k)
        {
            lo = Epilogue.Fuse(lo, k);
            hi = Epilogue.Fuse(hi, k);
            var even = Vector512<int>.Indices * 2;
            var pairs = Vector512.Max(Avx512F.PermuteVar16x32x2(lo, even, hi), Avx512F.PermuteVar16x32x2(lo, even + Vector512<int>.One, hi));
            var m = Vector512.Max(Avx512F.PermuteVar16x32(pairs, PoolTop), Avx512F.PermuteVar16x32(pairs, PoolBottom));
            m.GetLower().Store(p);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        readonly void Store(float* o, Vector512<float> lo, Vector512<float> hi, int k)
        {
            Epilogue.Fuse(lo, k).Store(o);
            Epilogue.Fuse(hi, k).Store(o + Lanes);
        }
    }
}
