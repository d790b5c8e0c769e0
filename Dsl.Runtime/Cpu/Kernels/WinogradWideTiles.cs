using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Dsl.Runtime.Cpu;

/// <summary>The input and output transforms of F(4x4, 3x3) and F(4x4, 5x5), 16 tiles to a vector. A tile is 6x6 (8x8)
/// inputs 4 apart, so a vector's lanes cannot be loaded as F(2x2)'s even and odd columns: each run of s = min(4, tiles per
/// row) tiles along a row is one 16-float load (its tiles' columns 0-3 at lanes 4t + q, and one 4 floats on for columns
/// 4-7), and the 16/s runs of a vector are merged by a tree of two-source permutes. The outputs go back the same way:
/// each 4x4 block's rows interleaved into runs of 4s floats (or, pooled, 2s), stored whole, or masked where F(4x4, 5x5)
/// tiles overhang the outputs' edges. Rows of tiles are whole runs (<see cref="TilesW"/>).</summary>
internal static unsafe partial class Winograd
{
    partial struct Job
    {
        /// <summary>Tiles [t0, t0 + tiles) of this chunk (t0 and tiles multiples of s), in vectors of 16, as
        /// <see cref="Segments"/> for F(4x4, 3x3).</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        readonly void WideSegments(long t0, int tiles, float* v, float* m, bool input, int c0, int c1)
        {
            int th = TilesH(G), tw = TilesW(G), s = Math.Min(4, tw);
            var runs = stackalloc TileRun[Lanes / 2];
            for (int done = 0; done < tiles; done += Lanes)
            {
                int count = Math.Min(Lanes, tiles - done) / s;
                for (int u = 0; u < count; u++)
                {
                    long t = t0 + done + u * s;
                    runs[u] = new TileRun((int)(t / ((long)tw * th)), (int)(t / tw % th), (int)(t % tw));
                }
                if (input) WideInputs(runs, count, s, v + done, c0, c1);
                else WideOutputs(runs, count, s, m + done, c0, c1);
            }
        }

        /// <summary>B^T d B for the runs' tiles, channels [c0, c1): v[c][xi][lane], lane u s + t for tile t of run u.</summary>
        [SkipLocalsInit, MethodImpl(MethodImplOptions.AggressiveOptimization)]
        readonly void WideInputs(TileRun* runs, int count, int s, float* v, int c0, int c1)
        {
            int alpha = Alpha(G), height = G.H, width = G.W, slots = Lanes / s, ld = Stride(Chunk);
            var lane = Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
            // Per run: each of its input rows as an offset from its first image's channel (negative where the row
            // starts in the padding), or long.MinValue outside the image (zeros; slots past the runs are all outside),
            // and masks for its two loads (columns x.. and x + 4..) where the run reaches past the row's ends.
            var rowAt = stackalloc long[Lanes / 2 * MaxAlpha];
            var inside = stackalloc bool[Lanes / 2];
            var masks = stackalloc Vector512<float>[Lanes];
            long image = (long)G.C * height * width;
            for (int u = 0; u < slots; u++)
            {
                int x = u < count ? 4 * runs[u].J - G.PadW : 0, top = u < count ? 4 * runs[u].I - G.PadH : -alpha - height;
                long offset = u < count ? (runs[u].N - runs[0].N) * image + x : 0;
                for (int p = 0; p < alpha; p++)
                    rowAt[u * alpha + p] = (uint)(top + p) < (uint)height ? offset + (long)(top + p) * width : long.MinValue;
                inside[u] = x >= 0 && x + 20 <= width;
                for (int h = 0; h < 2; h++)
                {
                    var q = lane + Vector512.Create(x + 4 * h);
                    masks[2 * u + h] = (Vector512.GreaterThanOrEqual(q, Vector512<int>.Zero) & Vector512.LessThan(q, Vector512.Create(width))).AsSingle();
                }
            }
            // First merge: lane t < s from the first run's lane 4t + q, lane s + t from the second's; then joins of the
            // first vector's 2s (4s) lanes and the second's.
            var first = stackalloc Vector512<int>[4];
            for (int q = 0; q < 4; q++)
                first[q] = Vector512.ConditionalSelect(Vector512.LessThan(lane, Vector512.Create(s)), lane * 4 + Vector512.Create(q),
                    (lane - Vector512.Create(s)) * 4 + Vector512.Create(16 + q));
            var join4 = Vector512.ConditionalSelect(Vector512.LessThan(lane, Vector512.Create(4)), lane, lane + Vector512.Create(12));
            var join8 = Vector512.ConditionalSelect(Vector512.LessThan(lane, Vector512.Create(8)), lane, lane + Vector512.Create(8));
            var d = stackalloc Vector512<float>[MaxAlpha];
            var e = stackalloc Vector512<float>[MaxAlpha * MaxAlpha];
            int channel = ChannelStride(G, Chunk), sv = alpha * ld / Lanes;
            float* xc = X + ((long)runs[0].N * G.C + Group * G.GroupC + c0) * height * width;
            for (int c = c0; c < c1; c++, xc += (long)height * width)
            {
                // Input row p of every tile (d), times B (e's row p); then B^T down each column of e, into v. Rows first,
                // so that each row's gathered inputs are transformed while they are at hand.
                for (int p = 0; p < alpha; p++)
                {
                    // Each run's columns x.. (a) and x + 4.. (b) of its tile row's input row p; runs of 4 tiles fill a
                    // vector from 4 runs, runs of 2 from 8.
                    Row(0, p, out var a0, out var b0);
                    Row(1, p, out var a1, out var b1);
                    Row(2, p, out var a2, out var b2);
                    Row(3, p, out var a3, out var b3);
                    if (slots == 4)
                    {
                        for (int q = 0; q < 4; q++) d[q] = Join(Pair(a0, a1, first[q]), Pair(a2, a3, first[q]), join8);
                        for (int q = 0; q < alpha - 4; q++) d[4 + q] = Join(Pair(b0, b1, first[q]), Pair(b2, b3, first[q]), join8);
                    }
                    else
                    {
                        Row(4, p, out var a4, out var b4);
                        Row(5, p, out var a5, out var b5);
                        Row(6, p, out var a6, out var b6);
                        Row(7, p, out var a7, out var b7);
                        for (int q = 0; q < 4; q++)
                            d[q] = Join(Join(Pair(a0, a1, first[q]), Pair(a2, a3, first[q]), join4),
                                Join(Pair(a4, a5, first[q]), Pair(a6, a7, first[q]), join4), join8);
                        for (int q = 0; q < alpha - 4; q++)
                            d[4 + q] = Join(Join(Pair(b0, b1, first[q]), Pair(b2, b3, first[q]), join4),
                                Join(Pair(b4, b5, first[q]), Pair(b6, b7, first[q]), join4), join8);
                    }
                    WinogradTransforms.InputRun4(alpha, d, 1, e + p * alpha, 1);
                }
                float* o = v + (long)c * channel;
                for (int q = 0; q < alpha; q++) WinogradTransforms.InputRun4(alpha, e + q, alpha, (Vector512<float>*)(o + q * ld), sv);
            }

            // Run u's columns x.. and x + 4.. of input row p of its tile row, in channel xc (zeros outside the image).
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            void Row(int u, int p, out Vector512<float> a, out Vector512<float> b)
            {
                long at = rowAt[u * alpha + p];
                if (at == long.MinValue)
                {
                    a = b = Vector512<float>.Zero;
                    return;
                }
                float* row = xc + at;
                if (inside[u]) { a = Vector512.Load(row); b = Vector512.Load(row + 4); }
                else { a = Avx512F.MaskLoad(row, masks[2 * u], Vector512<float>.Zero); b = Avx512F.MaskLoad(row + 4, masks[2 * u + 1], Vector512<float>.Zero); }
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static Vector512<float> Pair(Vector512<float> x, Vector512<float> y, Vector512<int> first) => Avx512F.PermuteVar16x32x2(x, first, y);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static Vector512<float> Join(Vector512<float> x, Vector512<float> y, Vector512<int> join) => Avx512F.PermuteVar16x32x2(x, join, y);

        /// <summary>A^T m A plus scale, bias and activation for the runs' tiles, output channels [k0, k1): each tile's
        /// 4x4 outputs, or with pooling the maximum of each 2x2 of them; rows and columns past the outputs are not written.</summary>
        /// <remarks>Where each run's outputs start, and how many of its rows and columns lie inside, is worked out once
        /// for all the channels, and the products are read in place: per channel, that bookkeeping and a copy of the
        /// products had cost more than the transform (a third of cifar-bn's conv3 at batch 1 on one thread, 32 µs; 28 now).</remarks>
        [SkipLocalsInit, MethodImpl(MethodImplOptions.AggressiveOptimization)]
        readonly void WideOutputs(TileRun* runs, int count, int s, float* m, int k0, int k1)
        {
            int alpha = Alpha(G), kg = G.GroupK, ho = G.Ho, wo = G.Wo, ld = Stride(Chunk), channel = ChannelStride(G, Chunk);
            var pairLow = Vector512.Create(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
            var pairHigh = Vector512.Create(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
            var quadLow = Vector512.Create(0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
            var quadHigh = Vector512.Create(8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);
            var act = Act;
            bool fused = act is Activation.None or Activation.Relu or Activation.LeakyRelu, pooled = Pooled != null;
            var slope = Vector512.Create(ActParam);
            var rows = stackalloc Vector512<float>[4 * MaxAlpha]; // A^T m: 4 rows of alpha
            var y = stackalloc Vector512<float>[16];           // the 4x4 outputs, row-major
            var out4 = stackalloc Vector512<float>[4];
            // Per run: its first output's offset from channel k's plane of the first run's image, and its rows and
            // columns inside the outputs (pooled: of the pooled plane).
            int side = pooled ? 2 : 4, outH = pooled ? ho / 2 : ho, outW = pooled ? wo / 2 : wo;
            var at = stackalloc long[Lanes / 2];
            var height = stackalloc int[Lanes / 2];
            var width = stackalloc int[Lanes / 2];
            for (int u = 0; u < count; u++)
            {
                at[u] = ((long)(runs[u].N - runs[0].N) * G.K * outH + side * runs[u].I) * outW + side * runs[u].J;
                height[u] = Math.Min(side, outH - side * runs[u].I);
                width[u] = Math.Min(side * s, outW - side * runs[u].J);
            }
            float* planes = (pooled ? Pooled : Y) + ((long)runs[0].N * G.K + Group * kg) * outH * outW;
            int sx = alpha * ld / Lanes; // vectors between a column's products
            for (int k = k0; k < k1; k++)
            {
                float* p = m + (long)k * channel;
                for (int q = 0; q < alpha; q++) WinogradTransforms.OutputRun4(alpha, (Vector512<float>*)(p + q * ld), sx, rows + q, alpha);
                var bias = Vector512.Create(Bias == null ? 0f : Bias[Group * kg + k]);
                var scale = Vector512.Create(Scale == null ? 1f : Scale[Group * kg + k]); // times 1 plus b rounds as plus b
                for (int o = 0; o < 4; o++)
                {
                    WinogradTransforms.OutputRun4(alpha, rows + o * alpha, 1, y + 4 * o, 1);
                    for (int q = 0; q < 4; q++) y[4 * o + q] = Rectify(Vector512.FusedMultiplyAdd(y[4 * o + q], scale, bias));
                }
                float* plane = planes + (long)k * outH * outW;
                if (pooled)
                {
                    for (int pr = 0; pr < 2; pr++)
                    {
                        // Row-major window order with a strict '>' keeps the first maximum, as the pooling kernel does.
                        var left = Max4(y[8 * pr], y[8 * pr + 1], y[8 * pr + 4], y[8 * pr + 5]);
                        var right = Max4(y[8 * pr + 2], y[8 * pr + 3], y[8 * pr + 6], y[8 * pr + 7]);
                        out4[0] = Avx512F.PermuteVar16x32x2(left, pairLow, right);
                        out4[1] = Avx512F.PermuteVar16x32x2(left, pairHigh, right);
                        for (int u = 0; u < count; u++)
                            if (pr < height[u]) StoreRun(out4, u * 2 * s, 2 * s, width[u], plane + at[u] + pr * outW);
                    }
                    continue;
                }
                for (int o = 0; o < 4; o++)
                {
                    var low01 = Avx512F.PermuteVar16x32x2(y[4 * o], pairLow, y[4 * o + 1]);
                    var high01 = Avx512F.PermuteVar16x32x2(y[4 * o], pairHigh, y[4 * o + 1]);
                    var low23 = Avx512F.PermuteVar16x32x2(y[4 * o + 2], pairLow, y[4 * o + 3]);
                    var high23 = Avx512F.PermuteVar16x32x2(y[4 * o + 2], pairHigh, y[4 * o + 3]);
                    out4[0] = Avx512F.PermuteVar16x32x2(low01, quadLow, low23); // tiles 0-3, 4 outputs each
                    out4[1] = Avx512F.PermuteVar16x32x2(low01, quadHigh, low23);
                    out4[2] = Avx512F.PermuteVar16x32x2(high01, quadLow, high23);
                    out4[3] = Avx512F.PermuteVar16x32x2(high01, quadHigh, high23);
                    for (int u = 0; u < count; u++)
                    {
                        if (o >= height[u]) continue;
                        float* dst = plane + at[u] + o * wo;
                        StoreRun(out4, u * 4 * s, 4 * s, width[u], dst);
                        if (!fused) Activations.Apply(act, ActParam, dst, dst, width[u]);
                    }
                }
            }

            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            Vector512<float> Rectify(Vector512<float> x) =>
                act == Activation.Relu ? Vector512.Max(x, Vector512<float>.Zero)
                : act == Activation.LeakyRelu ? Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512<float>.Zero), x, x * slope)
                : x;

            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            static Vector512<float> Max4(Vector512<float> a, Vector512<float> b, Vector512<float> c, Vector512<float> d)
            {
                var best = a;
                best = Vector512.ConditionalSelect(Vector512.GreaterThan(b, best), b, best);
                best = Vector512.ConditionalSelect(Vector512.GreaterThan(c, best), c, best);
                return Vector512.ConditionalSelect(Vector512.GreaterThan(d, best), d, best);
            }
        }

        /// <summary>Stores the first `width` of floats [offset, offset + length) of the vectors `src` laid end to end
        /// (length 4, 8 or 16, at a multiple of itself); masked only where the width falls short.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static void StoreRun(Vector512<float>* src, int offset, int length, int width, float* dst)
        {
            var x = src[offset / 16];
            int at = offset % 16;
            if (length == 16)
            {
                if (width == 16) Vector512.Store(x, dst);
                else Avx512F.MaskStore(dst, Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(width)).AsSingle(), x);
                return;
            }
            var half = at < 8 ? x.GetLower() : x.GetUpper();
            if (length == 8)
            {
                if (width == 8) Vector256.Store(half, dst);
                else Avx.MaskStore(dst, Vector256.LessThan(Vector256<int>.Indices, Vector256.Create(width)).AsSingle(), half);
                return;
            }
            var quarter = at % 8 == 0 ? half.GetLower() : half.GetUpper();
            if (width == 4) Vector128.Store(quarter, dst);
            else Avx.MaskStore(dst, Vector128.LessThan(Vector128<int>.Indices, Vector128.Create(width)).AsSingle(), quarter);
        }

        /// <summary>A run's first tile: image, tile row and tile column.</summary>
        readonly record struct TileRun(int N, int I, int J);
    }
}
