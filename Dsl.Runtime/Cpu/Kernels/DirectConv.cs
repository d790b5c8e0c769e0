using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Dsl.Runtime.Cpu;

/// <summary>The forward pass of a stride-1 convolution with few input taps (C*R*S up to 64: a first layer on grey or
/// colour images), computed directly: eight output channels by 32 columns of an output row in registers, each input
/// vector loaded once for the eight.</summary>
/// <remarks>On such layers im2col + GEMM spent as long lowering and on the short inner dimension's per-tile stores as
/// multiplying: lenet's conv1 at batch 64 took 1.6 ms against ONNX Runtime's 0.5. Each output is one FMA chain over
/// (c, r, s) in im2col's row order, as the GEMM's single K block sums it, then the same epilogue: the bits are the
/// im2col path's, whatever the thread count.</remarks>
internal static unsafe partial class DirectConv
{
    const int Channels = 8, Columns = 32;

    /// <summary>Most taps (input channels x kernel area) this path takes; past them the GEMM's inner dimension is long
    /// enough to pay for the lowering.</summary>
    internal const int MaxTaps = 64;

    /// <summary>Whether this path takes g on this CPU (AVX-512 vectors, where the GEMM's panels are eight rows; one K
    /// block, as the taps are fewer than its 320).</summary>
    public static bool Takes(in ConvGeometry g) =>
        Avx512F.IsSupported && GemmMicroKernel.MR == Channels && g.Groups == 1 && g.ColRows <= MaxTaps && g.StrideH == 1 && g.StrideW == 1 &&
        g.Ho == g.H + 2 * g.PadH - g.R + 1 && g.Wo == g.W + 2 * g.PadW - g.S + 1 && g.Ho > 0 && g.Wo > 0 && g.N > 0;

    static int Blocks(in ConvGeometry g) => (g.K + Channels - 1) / Channels;

    /// <summary>Padded rows and row length of an image's copy: every row a 32-column strip's loads reach, zeros around.</summary>
    static int PaddedH(in ConvGeometry g) => g.Ho + g.R - 1;
    static int PaddedW(in ConvGeometry g) => (g.Wo + Columns - 1) / Columns * Columns + g.S - 1;
    static long PlaneFloats(in ConvGeometry g) => ((long)g.C * PaddedH(g) * PaddedW(g) + 15) / 16 * 16;

    /// <summary>Workspace past the weights: a padded copy of the image per thread.</summary>
    public static long WorkspaceFloats(in ConvGeometry g, int threads) => Takes(g) ? Math.Max(1, threads) * PlaneFloats(g) : 0;

    /// <summary>Whether a following `maxpool 2` can be taken from this path's output rows: even output sizes, and an
    /// activation that commutes with max.</summary>
    public static bool Pools(in ConvGeometry g, Activation act) =>
        g.Ho % 2 == 0 && g.Wo % 2 == 0 && act is Activation.None or Activation.Relu or Activation.LeakyRelu;

    /// <summary>y = act(conv(x, w) * scale + bias) from the weights as the GEMM packs them (<see cref="Gemm.Pack"/>: per
    /// eight output channels, per tap, the eight), where this path takes g and the workspace holds
    /// <see cref="WorkspaceFloats"/> for the thread count; returns whether it ran. With <paramref name="pooled"/>, where
    /// <see cref="Pools"/>, y is not written but its 2x2 maxima are, into pooled.</summary>
    public static bool TryForward(in ConvGeometry g, float* x, float* panels, float* bias, float* scale, float* y,
        Activation act, float actParam, float* workspace, long workspaceFloats, float* pooled = null)
    {
        int threads = CpuThreads.Count;
        if (!Takes(g) || workspaceFloats < WorkspaceFloats(g, threads)) return false;
        int* current = stackalloc int[threads]; // the image each thread's copy holds
        new Span<int>(current, threads).Fill(-1);
        int blocks = Blocks(g);
        var job = new Job
        {
            G = g, X = x, Weights = panels, Y = y, Planes = workspace, Current = current, Blocks = blocks,
            Pooled = pooled != null && Pools(g, act) ? pooled : null,
            Epilogue = new GemmEpilogue(bias, null, act, actParam, scale),
        };
        // Whole images to a thread where there are enough for all; else blocks of channels of the one image.
        CpuThreads.ForEach(g.N * blocks, g.N >= threads ? blocks : 1, threads, ref job);
        return true;
    }

    private struct Job : IParallelJob
    {
        public ConvGeometry G;
        public float* X, Weights, Y, Planes, Pooled;
        public int* Current;
        public int Blocks;
        public GemmEpilogue Epilogue;

        public void Run(int begin, int end)
        {
            int slot = CpuThreads.Slot;
            float* plane = Planes + slot * PlaneFloats(G);
            for (int item = begin; item < end; item++)
            {
                int n = item / Blocks, b = item % Blocks;
                if (Current[slot] != n)
                {
                    Pad(G, X + (long)n * G.C * G.H * G.W, plane);
                    Current[slot] = n;
                }
                if (Pooled != null)
                {
                    PooledHalfBlock(n, b, 0, plane);
                    if (b * Channels + Channels / 2 < G.K) PooledHalfBlock(n, b, 1, plane);
                    continue;
                }
                ChannelBlock(n, b, plane);
                if (!Epilogue.FusesActivation) // afterwards: a call beside the accumulators would have them spilled
                {
                    int hw = G.Ho * G.Wo, k0 = b * Channels;
                    for (int k = k0; k < Math.Min(G.K, k0 + Channels); k++)
                        Activations.Apply(Epilogue.Act, Epilogue.ActParam, Y + ((long)n * G.K + k) * hw, Y + ((long)n * G.K + k) * hw, hw);
                }
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        readonly void ChannelBlock(int n, int b, float* plane)
        {
            int hp = PaddedH(G), wp = PaddedW(G), taps = G.ColRows, hw = G.Ho * G.Wo, k0 = b * Channels;
            int rows = Math.Min(Channels, G.K - k0);
            float* wb = Weights + (long)b * taps * Channels;
            for (int oh = 0; oh < G.Ho; oh++)
            for (int j0 = 0; j0 < G.Wo; j0 += Columns)
            {
                Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
                Vector512<float> b0 = default, b1 = default, b2 = default, b3 = default, b4 = default, b5 = default, b6 = default, b7 = default;
                float* wt = wb;
                for (int c = 0; c < G.C; c++)
                for (int r = 0; r < G.R; r++)
                {
                    float* src = plane + ((long)c * hp + oh + r) * wp + j0;
                    for (int s = 0; s < G.S; s++, wt += Channels)
                    {
                        MultiplyAdd(wt, Vector512.Load(src + s), Vector512.Load(src + s + 16),
                            ref a0, ref a1, ref a2, ref a3, ref a4, ref a5, ref a6, ref a7, ref b0, ref b1, ref b2, ref b3, ref b4, ref b5, ref b6, ref b7);
                    }
                }
                int cols = Math.Min(Columns, G.Wo - j0);
                float* o = Y + ((long)n * G.K + k0) * hw + (long)oh * G.Wo + j0;
                var mask = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(cols - 16)).AsSingle();
                Store(o, a0, b0, k0, mask, cols);
                if (rows > 1) Store(o + hw, a1, b1, k0 + 1, mask, cols);
                if (rows > 2) Store(o + 2L * hw, a2, b2, k0 + 2, mask, cols);
                if (rows > 3) Store(o + 3L * hw, a3, b3, k0 + 3, mask, cols);
                if (rows > 4) Store(o + 4L * hw, a4, b4, k0 + 4, mask, cols);
                if (rows > 5) Store(o + 5L * hw, a5, b5, k0 + 5, mask, cols);
                if (rows > 6) Store(o + 6L * hw, a6, b6, k0 + 6, mask, cols);
                if (rows > 7) Store(o + 7L * hw, a7, b7, k0 + 7, mask, cols);
            }
        }

        /// <summary>Half a block (four channels) by two output rows of 32 columns, pooled 2x2 as it is stored.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        readonly void PooledHalfBlock(int n, int b, int half, float* plane)
        {
            int hp = PaddedH(G), wp = PaddedW(G), taps = G.ColRows, k0 = b * Channels + half * Channels / 2;
            int rows = Math.Min(Channels / 2, G.K - k0), ph = G.Ho / 2, pw = G.Wo / 2, phw = ph * pw;
            float* wh = Weights + (long)b * taps * Channels + half * Channels / 2;
            for (int oh = 0; oh < G.Ho; oh += 2)
            for (int j0 = 0; j0 < G.Wo; j0 += Columns)
            {
                // t, s: row oh's two vectors; u, v: row oh + 1's
                Vector512<float> t0 = default, t1 = default, t2 = default, t3 = default, s0 = default, s1 = default, s2 = default, s3 = default;
                Vector512<float> u0 = default, u1 = default, u2 = default, u3 = default, v0 = default, v1 = default, v2 = default, v3 = default;
                float* wt = wh;
                for (int c = 0; c < G.C; c++)
                for (int r = 0; r < G.R; r++)
                {
                    float* top = plane + ((long)c * hp + oh + r) * wp + j0, bottom = top + wp;
                    for (int s = 0; s < G.S; s++, wt += Channels)
                    {
                        var x0 = Vector512.Load(top + s);
                        var x1 = Vector512.Load(top + s + 16);
                        var y0 = Vector512.Load(bottom + s);
                        var y1 = Vector512.Load(bottom + s + 16);
                        var q = Vector512.Create(wt[0]);
                        t0 = Avx512F.FusedMultiplyAdd(q, x0, t0); s0 = Avx512F.FusedMultiplyAdd(q, x1, s0); u0 = Avx512F.FusedMultiplyAdd(q, y0, u0); v0 = Avx512F.FusedMultiplyAdd(q, y1, v0);
                        q = Vector512.Create(wt[1]);
                        t1 = Avx512F.FusedMultiplyAdd(q, x0, t1); s1 = Avx512F.FusedMultiplyAdd(q, x1, s1); u1 = Avx512F.FusedMultiplyAdd(q, y0, u1); v1 = Avx512F.FusedMultiplyAdd(q, y1, v1);
                        q = Vector512.Create(wt[2]);
                        t2 = Avx512F.FusedMultiplyAdd(q, x0, t2); s2 = Avx512F.FusedMultiplyAdd(q, x1, s2); u2 = Avx512F.FusedMultiplyAdd(q, y0, u2); v2 = Avx512F.FusedMultiplyAdd(q, y1, v2);
                        q = Vector512.Create(wt[3]);
                        t3 = Avx512F.FusedMultiplyAdd(q, x0, t3); s3 = Avx512F.FusedMultiplyAdd(q, x1, s3); u3 = Avx512F.FusedMultiplyAdd(q, y0, u3); v3 = Avx512F.FusedMultiplyAdd(q, y1, v3);
                    }
                }
                int cols = Math.Min(Columns, G.Wo - j0) / 2;
                float* o = Pooled + ((long)n * G.K + k0) * phw + (long)(oh / 2) * pw + j0 / 2;
                PoolStore(o, t0, s0, u0, v0, k0, cols);
                if (rows > 1) PoolStore(o + phw, t1, s1, u1, v1, k0 + 1, cols);
                if (rows > 2) PoolStore(o + 2L * phw, t2, s2, u2, v2, k0 + 2, cols);
                if (rows > 3) PoolStore(o + 3L * phw, t3, s3, u3, v3, k0 + 3, cols);
            }
        }

        /// <summary>Channel k's 2x2 maxima of two rows of a strip (top: t, s; bottom: u, v) after the epilogue, the
        /// first <paramref name="cols"/> of 16.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        readonly void PoolStore(float* o, Vector512<float> t, Vector512<float> s, Vector512<float> u, Vector512<float> v, int k, int cols)
        {
            var lo = Vector512.Max(Epilogue.Fuse(t, k), Epilogue.Fuse(u, k));
            var hi = Vector512.Max(Epilogue.Fuse(s, k), Epilogue.Fuse(v, k));
            var even = Vector512<int>.Indices * 2;
            var m = Vector512.Max(Avx512F.PermuteVar16x32x2(lo, even, hi), Avx512F.PermuteVar16x32x2(lo, even + Vector512<int>.One, hi));
            if (cols == 16) m.Store(o);
            else Avx512F.MaskStore(o, Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(cols)).AsSingle(), m);
        }

        /// <summary>Channel k's first <paramref name="cols"/> of a 32-column strip (at least 1; mask: those past 16),
        /// through the epilogue's fused part.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        readonly void Store(float* o, Vector512<float> lo, Vector512<float> hi, int k, Vector512<float> mask, int cols)
        {
            lo = Epilogue.Fuse(lo, k);
            hi = Epilogue.Fuse(hi, k);
            if (cols >= 16) lo.Store(o);
            else Avx512F.MaskStore(o, Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(cols)).AsSingle(), lo);
            if (cols == Columns) hi.Store(o + 16);
            else if (cols > 16) Avx512F.MaskStore(o + 16, mask, hi);
        }
    }

    /// <summary>One tap's products for a block of eight output channels by two vectors of pixels: the eight filters'
    /// weights wt[0..7] times the tap's inputs u (accumulated into a0..a7) and s (into b0..b7). The direct paths' inner
    /// step (<see cref="SmallImageConv"/> too).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void MultiplyAdd(float* wt, Vector512<float> u, Vector512<float> s,
        ref Vector512<float> a0, ref Vector512<float> a1, ref Vector512<float> a2, ref Vector512<float> a3,
        ref Vector512<float> a4, ref Vector512<float> a5, ref Vector512<float> a6, ref Vector512<float> a7,
        ref Vector512<float> b0, ref Vector512<float> b1, ref Vector512<float> b2, ref Vector512<float> b3,
        ref Vector512<float> b4, ref Vector512<float> b5, ref Vector512<float> b6, ref Vector512<float> b7)
    {
        var q = Vector512.Create(wt[0]); a0 = Avx512F.FusedMultiplyAdd(q, u, a0); b0 = Avx512F.FusedMultiplyAdd(q, s, b0);
        q = Vector512.Create(wt[1]); a1 = Avx512F.FusedMultiplyAdd(q, u, a1); b1 = Avx512F.FusedMultiplyAdd(q, s, b1);
        q = Vector512.Create(wt[2]); a2 = Avx512F.FusedMultiplyAdd(q, u, a2); b2 = Avx512F.FusedMultiplyAdd(q, s, b2);
        q = Vector512.Create(wt[3]); a3 = Avx512F.FusedMultiplyAdd(q, u, a3); b3 = Avx512F.FusedMultiplyAdd(q, s, b3);
        q = Vector512.Create(wt[4]); a4 = Avx512F.FusedMultiplyAdd(q, u, a4); b4 = Avx512F.FusedMultiplyAdd(q, s, b4);
        q = Vector512.Create(wt[5]); a5 = Avx512F.FusedMultiplyAdd(q, u, a5); b5 = Avx512F.FusedMultiplyAdd(q, s, b5);
        q = Vector512.Create(wt[6]); a6 = Avx512F.FusedMultiplyAdd(q, u, a6); b6 = Avx512F.FusedMultiplyAdd(q, s, b6);
        q = Vector512.Create(wt[7]); a7 = Avx512F.FusedMultiplyAdd(q, u, a7); b7 = Avx512F.FusedMultiplyAdd(q, s, b7);
    }

    /// <summary>Image x (C planes) into its zero-padded copy.</summary>
    static void Pad(in ConvGeometry g, float* x, float* plane)
    {
        int hp = PaddedH(g), wp = PaddedW(g);
        new Span<float>(plane, g.C * hp * wp).Clear();
        for (int c = 0; c < g.C; c++)
        for (int h = 0; h < g.H; h++)
            new ReadOnlySpan<float>(x + ((long)c * g.H + h) * g.W, g.W).CopyTo(
                new Span<float>(plane + ((long)c * hp + h + g.PadH) * wp + g.PadW, g.W));
    }
}
