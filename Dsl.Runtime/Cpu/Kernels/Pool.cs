using System;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Runtime.CompilerServices;

namespace Dsl.Runtime.Cpu;

/// <summary>Max and average pooling, parallel over N*C planes; windows are clipped to the input (and padded extent for averages).</summary>
public static unsafe class Pool
{
    /// <summary>y = window max; argmax gets the winner's index ih*W + iw within its input plane (-1 and y = 0 for a window
    /// with no input cell). argmax may be null (inference): the maxima alone.</summary>
    public static void MaxForward(PoolGeometry g, float* x, float* y, int* argmax)
    {
        var job = new Job { G = g, X = x, Y = y, Arg = argmax, Kind = Op.MaxForward };
        CpuThreads.For(g.N * g.C, Grain(g), ref job);
    }

    /// <summary>dx = dy routed to each window's argmax (overwrites dx).</summary>
    public static void MaxBackward(PoolGeometry g, float* dy, int* argmax, float* dx)
    {
        var job = new Job { G = g, X = dx, Y = dy, Arg = argmax, Kind = Op.MaxBackward };
        CpuThreads.For(g.N * g.C, Grain(g), ref job);
    }

    /// <summary>y = window sum / positions of the window inside the zero-padded input (count_include_pad).</summary>
    public static void AvgForward(PoolGeometry g, float* x, float* y)
    {
        var job = new Job { G = g, X = x, Y = y, Kind = Op.AvgForward };
        CpuThreads.For(g.N * g.C, Grain(g), ref job);
    }

    /// <summary>dx = dy spread evenly over each window (overwrites dx).</summary>
    public static void AvgBackward(PoolGeometry g, float* dy, float* dx)
    {
        var job = new Job { G = g, X = dx, Y = dy, Kind = Op.AvgBackward };
        CpuThreads.For(g.N * g.C, Grain(g), ref job);
    }

    private enum Op { MaxForward, MaxBackward, AvgForward, AvgBackward }

    private static int Grain(in PoolGeometry g) => Math.Max(1, (1 << 14) / Math.Max(1, g.Ho * g.Wo * g.KernelH * g.KernelW));

    private struct Job : IParallelJob
    {
        public PoolGeometry G;
        public float* X, Y; // X: input (or dx), Y: output (or dy)
        public int* Arg;
        public Op Kind;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int begin, int end)
        {
            long inPlane = (long)G.H * G.W, outPlane = (long)G.Ho * G.Wo;
            for (int p = begin; p < end; p++)
            {
                float* x = X + p * inPlane, y = Y + p * outPlane;
                int* arg = Arg == null ? null : Arg + p * outPlane;
                if (Kind == Op.MaxForward)
                {
                    MaxPlane(x, y, arg);
                    continue;
                }
                if (Kind is Op.MaxBackward or Op.AvgBackward) new Span<float>(x, (int)inPlane).Clear();
                if (Kind == Op.MaxBackward)
                {
                    // the winners are known: no window to walk (+=, as overlapping windows can share one)
                    for (long o = 0; o < outPlane; o++)
                        if (arg[o] >= 0) x[arg[o]] += y[o];
                    continue;
                }
                for (int oh = 0; oh < G.Ho; oh++)
                {
                    int hs = oh * G.StrideH - G.PadH, h0 = Math.Max(hs, 0), h1 = Math.Min(hs + G.KernelH, G.H);
                    for (int ow = 0; ow < G.Wo; ow++)
                    {
                        int ws = ow * G.StrideW - G.PadW, w0 = Math.Max(ws, 0), w1 = Math.Min(ws + G.KernelW, G.W);
                        int o = oh * G.Wo + ow;
                        switch (Kind)
                        {
                            case Op.AvgForward:
                            {
                                float sum = 0f;
                                for (int ih = h0; ih < h1; ih++)
                                for (int iw = w0; iw < w1; iw++) sum += x[ih * G.W + iw];
                                y[o] = sum / Count(hs, ws);
                                break;
                            }
                            default:
                            {
                                float share = y[o] / Count(hs, ws);
                                for (int ih = h0; ih < h1; ih++)
                                for (int iw = w0; iw < w1; iw++) x[ih * G.W + iw] += share;
                                break;
                            }
                        }
                    }
                }
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly void MaxPlane(float* x, float* y, int* arg)
        {
            if (Avx512F.IsSupported && G is { KernelH: 2, KernelW: 2, StrideH: 2, StrideW: 2, PadH: 0, PadW: 0 } && 2 * G.Ho <= G.H && 2 * G.Wo <= G.W)
            {
                MaxPlane2x2(x, y, arg);
                return;
            }
            if (Avx512F.IsSupported && G is { StrideH: 2, StrideW: 2, PadH: 0, PadW: 0 } && G.KernelW <= 16 &&
                2 * (G.Ho - 1) + G.KernelH <= G.H && 2 * (G.Wo - 1) + G.KernelW <= G.W)
            {
                MaxPlaneStride2(x, y, arg);
                return;
            }
            // Output columns whose window lies inside the row (one spare column: stride 2 loads 16 floats)
            // take the 8-wide path; gathers are slow on some cores, so strides 1 and 2 use plain loads.
            int sw = G.StrideW;
            int vLo = Math.Min(G.Wo, (G.PadW + sw - 1) / sw);
            int room = G.W - 1 - G.KernelW + G.PadW;
            int vHi = room < 0 ? vLo : Math.Max(vLo, Math.Min(G.Wo, room / sw + 1));
            var lane = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7) * sw;
            for (int oh = 0; oh < G.Ho; oh++)
            {
                int hs = oh * G.StrideH - G.PadH, h0 = Math.Max(hs, 0), h1 = Math.Min(hs + G.KernelH, G.H);
                float* yr = y + oh * G.Wo;
                int* ar = arg == null ? null : arg + oh * G.Wo;
                int ow = 0;
                if (Avx2.IsSupported && h0 < h1)
                {
                    for (ow = vLo; ow + 8 <= vHi; ow += 8)
                    {
                        // Row-major window order with a strict '>' keeps the first maximum, like the scalar path.
                        int first = h0 * G.W + ow * sw - G.PadW;
                        var at = lane + Vector256.Create(first);
                        var best = LoadStrided(x + first, at, sw);
                        for (int ih = h0; ih < h1; ih++)
                        for (int iw = 0; iw < G.KernelW; iw++)
                        {
                            int o = first + (ih - h0) * G.W + iw;
                            var idx = lane + Vector256.Create(o);
                            var v = LoadStrided(x + o, idx, sw);
                            var gt = Vector256.GreaterThan(v, best);
                            best = Vector256.ConditionalSelect(gt, v, best);
                            at = Vector256.ConditionalSelect(gt.AsInt32(), idx, at);
                        }
                        Vector256.Store(best, yr + ow);
                        if (ar != null) Vector256.Store(at, ar + ow);
                    }
                    for (int o = 0; o < vLo; o++) MaxScalar(x, yr, ar, o, h0, h1);
                }
                for (; ow < G.Wo; ow++) MaxScalar(x, yr, ar, ow, h0, h1);
            }
        }

        /// <summary>2x2 windows, stride 2, no padding (the usual `maxpool 2`): 16 outputs per step from two 32-float loads
        /// of each input row, split into even and odd columns; masked lanes cover the row's end without touching memory.
        /// The four cells are taken in row-major order with a strict '>', like the other paths. Kept beside
        /// <see cref="MaxPlaneStride2"/>, which takes these windows too but with per-cell loops: cifar-bn's pools in
        /// training at batch 64 took 0.35-0.38, 0.22-0.23 and 0.21 ms there against 0.30-0.31, 0.16-0.19 and 0.15-0.16.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly void MaxPlane2x2(float* x, float* y, int* arg)
        {
            int w = G.W, wo = G.Wo;
            var lane = Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
            var evens = lane * 2;
            var odds = evens + Vector512<int>.One;
            var zero = Vector512<float>.Zero;
            for (int oh = 0; oh < G.Ho; oh++, y += wo)
            {
                float* r0 = x + 2L * oh * w, r1 = r0 + w;
                for (int ow = 0; ow < wo; ow += 16)
                {
                    var col = lane + Vector512.Create(ow);
                    var valid = Vector512.LessThan(col, Vector512.Create(wo));
                    var end = Vector512.Create(2 * wo - 2 * ow);
                    var lo = Vector512.LessThan(lane, end).AsSingle();
                    var hi = Vector512.LessThan(lane + Vector512.Create(16), end).AsSingle();
                    int i = 2 * ow;
                    var t0 = Avx512F.MaskLoad(r0 + i, lo, zero);
                    var t1 = Avx512F.MaskLoad(r0 + i + 16, hi, zero);
                    var u0 = Avx512F.MaskLoad(r1 + i, lo, zero);
                    var u1 = Avx512F.MaskLoad(r1 + i + 16, hi, zero);
                    var at = Vector512.Create(2 * oh * w) + col * 2;
                    var best = Avx512F.PermuteVar16x32x2(t0, evens, t1);
                    var idx = at;
                    Take(Avx512F.PermuteVar16x32x2(t0, odds, t1), at + Vector512<int>.One, ref best, ref idx);
                    Take(Avx512F.PermuteVar16x32x2(u0, evens, u1), at + Vector512.Create(w), ref best, ref idx);
                    Take(Avx512F.PermuteVar16x32x2(u0, odds, u1), at + Vector512.Create(w + 1), ref best, ref idx);
                    Avx512F.MaskStore(y + ow, valid.AsSingle(), best);
                    if (arg != null) Avx512F.MaskStore(arg + oh * wo + ow, valid, idx);
                }
            }
        }

        /// <summary>Stride-2 windows of any size up to 16 wide, without padding, all inside the input (AlexNet's 3x3
        /// pools): 16 outputs per step, each window column from two 16-float loads of its input row split into even
        /// and odd columns (one pair of loads for columns 2l + 2j and 2l + 2j + 1); masked lanes cover the row's end
        /// without touching memory. The cells are taken in row-major order with a strict '>', like the other paths.
        /// The 8-lane path left a third of the outputs of a 27-wide plane, and all of a 13-wide one, to the scalar
        /// loop: AlexNet's three pools took 33 ms at batch 64.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly void MaxPlaneStride2(float* x, float* y, int* arg)
        {
            int w = G.W, wo = G.Wo, kh = G.KernelH, kw = G.KernelW;
            var lane = Vector512<int>.Indices;
            var evens = lane * 2;
            var odds = evens + Vector512<int>.One;
            var zero = Vector512<float>.Zero;
            for (int oh = 0; oh < G.Ho; oh++)
            {
                float* yr = y + oh * wo;
                for (int ow = 0; ow < wo; ow += 16)
                {
                    var valid = Vector512.LessThan(lane + Vector512.Create(ow), Vector512.Create(wo));
                    var start = Vector512.Create(2 * oh * w + 2 * ow) + evens; // each lane's window's first cell
                    Vector512<float> best = default;
                    Vector512<int> idx = default;
                    for (int ih = 0; ih < kh; ih++)
                    {
                        float* row = x + (long)(2 * oh + ih) * w + 2 * ow;
                        for (int j = 0; j < kw; j += 2)
                        {
                            // columns 2 lane + j and + j + 1 of the lanes' windows; loads end at the input row's end
                            var end = Vector512.Create(w - 2 * ow - j);
                            var t0 = Avx512F.MaskLoad(row + j, Vector512.LessThan(lane, end).AsSingle(), zero);
                            var t1 = Avx512F.MaskLoad(row + j + 16, Vector512.LessThan(lane + Vector512.Create(16), end).AsSingle(), zero);
                            var at = start + Vector512.Create(ih * w + j);
                            var even = Avx512F.PermuteVar16x32x2(t0, evens, t1);
                            if (ih == 0 && j == 0) (best, idx) = (even, at);
                            else Take(even, at, ref best, ref idx);
                            if (j + 1 < kw) Take(Avx512F.PermuteVar16x32x2(t0, odds, t1), at + Vector512<int>.One, ref best, ref idx);
                        }
                    }
                    Avx512F.MaskStore(yr + ow, valid.AsSingle(), best);
                    if (arg != null) Avx512F.MaskStore(arg + oh * wo + ow, valid, idx);
                }
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Take(Vector512<float> v, Vector512<int> at, ref Vector512<float> best, ref Vector512<int> idx)
        {
            var gt = Vector512.GreaterThan(v, best);
            best = Vector512.ConditionalSelect(gt, v, best);
            idx = Vector512.ConditionalSelect(gt.AsInt32(), at, idx);
        }

        /// <summary>p[0], p[s], ..., p[7s]; idx holds the same offsets from the plane start for the gather fallback.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector256<float> LoadStrided(float* p, Vector256<int> idx, int s)
        {
            if (s == 1) return Vector256.Load(p);
            if (s == 2)
            {
                var evens = Vector256.Create(0, 2, 4, 6, 0, 2, 4, 6);
                return Avx2.Blend(Avx2.PermuteVar8x32(Vector256.Load(p), evens), Avx2.PermuteVar8x32(Vector256.Load(p + 8), evens), 0xF0);
            }
            return Avx2.GatherVector256(p - idx.ToScalar(), idx, 4);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly void MaxScalar(float* x, float* yr, int* ar, int ow, int h0, int h1)
        {
            int ws = ow * G.StrideW - G.PadW, w0 = Math.Max(ws, 0), w1 = Math.Min(ws + G.KernelW, G.W);
            if (h0 >= h1 || w0 >= w1)
            {
                yr[ow] = 0f;
                if (ar != null) ar[ow] = -1;
                return;
            }
            // Start from a real cell, so padding never wins.
            int at = h0 * G.W + w0;
            float best = x[at];
            for (int ih = h0; ih < h1; ih++)
            for (int iw = w0; iw < w1; iw++)
            {
                float v = x[ih * G.W + iw];
                if (v > best)
                {
                    best = v;
                    at = ih * G.W + iw;
                }
            }
            yr[ow] = best;
            if (ar != null) ar[ow] = at;
        }

        // Window positions inside [-pad, size + pad) on each axis.
        private readonly int Count(int hs, int ws) =>
            Math.Max(1, (Math.Min(hs + G.KernelH, G.H + G.PadH) - hs) * (Math.Min(ws + G.KernelW, G.W + G.PadW) - ws));
    }
}
