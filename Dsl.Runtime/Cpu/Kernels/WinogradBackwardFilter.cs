using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Dsl.Runtime.Cpu;

/// <summary>The filter gradient of a 3x3 or 5x5 stride-1 convolution through the forward pass's Winograd algorithm:
/// with Y = A^T [U . V] A per tile, dU = sum over tiles of (A dY A^T) . V and dw = G^T dU G, so each of the (m + r - 1)^2
/// products is one GEMM [K x tiles] by [tiles x C]: (m + r - 1)^2 multiplies per tile and channel pair where im2col's
/// GEMM does m^2 r^2.</summary>
/// <remarks>V = B^T d B is the forward pass's input transform (the same code). Chunks of tiles run one after another,
/// each split between threads by input channels, output channels and products, and their GEMMs add into dU in chunk
/// order: every element is summed by one thread in an order fixed by the geometry, so the bits do not depend on the
/// thread count. dU is turned back into dw in double.</remarks>
internal static unsafe partial class Winograd
{
    /// <summary>Tiles per filter-gradient chunk: near 4 MiB of transformed inputs and output gradients (the GEMMs' inner
    /// dimension), whatever the thread count.</summary>
    static int FilterChunk(in ConvGeometry g) =>
        (int)Math.Min(Math.Max(64, (1 << 20) / (Products(g) * (g.GroupC + g.GroupK)) / 16 * 16), (Tiles(g) + 15) / 16 * 16);

    /// <summary>Workspace floats for <see cref="TryBackwardFilter"/> on g; 0 where the path does not apply.</summary>
    public static long BackwardFilterWorkspaceFloats(in ConvGeometry g) =>
        Shape(g) ? TransformedWeights(g) + 16 + ChunkFloats(g, FilterChunk(g)) : 0;

    /// <summary>dw = the filter gradient (overwritten) when g suits this path, has images and the workspace holds what it
    /// needs; false (nothing written) otherwise.</summary>
    public static bool TryBackwardFilter(in ConvGeometry g, float* x, float* dy, float* dw, float* workspace, long workspaceFloats)
    {
        long need = BackwardFilterWorkspaceFloats(g);
        if (need == 0 || need > workspaceFloats || g.N == 0) return false;
        int kg = g.GroupK, cg = g.GroupC, chunk = FilterChunk(g);
        float* du = workspace, scratch = Aligned(du + TransformedWeights(g));
        for (int grp = 0; grp < g.Groups; grp++)
        {
            // Three meetings of the threads per chunk: input channels, output channels, products.
            var job = new Job { G = g, Group = grp, X = x, Y = dy, Chunk = chunk, Scratch = scratch, Du = du };
            for (long t0 = 0; t0 < Tiles(g); t0 += chunk)
            {
                job.First = t0;
                job.Step = Step.Inputs;
                CpuThreads.For(cg, 1, ref job);
                job.Step = Step.Gradients;
                CpuThreads.For(kg, 1, ref job);
                job.Step = Step.FilterProducts;
                CpuThreads.For(Products(g), 1, ref job);
            }
            TransformFilters(g, true, du, dw + (long)grp * kg * cg * g.R * g.R);
        }
        return true;
    }

    /// <summary>dw[k][c] = G^T dU[.][k][c] G for each filter, k in [k0, k1), summed in double: the adjoint of
    /// <see cref="TransformWeights"/>. G is n x r, row-major. Eight filters at a time in the lanes of double vectors (the
    /// last eight masked), as there. Scalar, this took 2.0 of the 4.2 ms of cifar-bn's conv6's filter gradient.</summary>
    [SkipLocalsInit]
    static void TransformGradients(double* gm, int n, int r, float* du, int kg, int cg, float* dw, int k0, int k1)
    {
        long plane = (long)kg * cg;
        int rr = r * r;
        var half = stackalloc Vector512<double>[MaxAlpha * 5];
        var f = stackalloc double[25 * 8];
        for (int k = k0; k < k1; k++)
        for (int c = 0; c < cg; c += 8)
        {
            int count = Math.Min(8, cg - c);
            var inside = Vector256.LessThan(Vector256<int>.Indices, Vector256.Create(count)).AsSingle();
            float* u = du + (long)k * cg + c;
            // half[a][s] = sum over b of dU[a][b] G[b][s]
            for (int a = 0; a < n; a++)
            for (int s = 0; s < r; s++)
            {
                var sum = Vector512<double>.Zero;
                for (int b = 0; b < n; b++)
                    sum += Avx512F.ConvertToVector512Double(Avx.MaskLoad(u + (a * n + b) * plane, inside)) * Vector512.Create(gm[b * r + s]);
                half[a * r + s] = sum;
            }
            for (int q = 0; q < r; q++)
            for (int s = 0; s < r; s++)
            {
                var sum = Vector512<double>.Zero;
                for (int a = 0; a < n; a++) sum += Vector512.Create(gm[a * r + q]) * half[a * r + s];
                sum.Store(f + (q * r + s) * 8);
            }
            float* out8 = dw + ((long)k * cg + c) * rr;
            for (int l = 0; l < count; l++)
            for (int e = 0; e < rr; e++)
                out8[l * rr + e] = (float)f[e * 8 + l];
        }
    }

    partial struct Job
    {
        /// <summary>dU[xi] (+)= dM[xi] V[xi]^T for products [begin, end) of the chunk at <see cref="First"/>, each on this
        /// thread (a loop nested in a job runs serially): rows of both are <see cref="ChannelStride"/> apart.</summary>
        readonly void AddProducts(int tiles, float* v, float* m, int begin, int end)
        {
            int kg = G.GroupK, cg = G.GroupC, stride = Stride(Chunk), rows = ChannelStride(G, Chunk);
            for (int xi = begin; xi < end; xi++)
            {
                if (ByDots(G)) Dots(kg, cg, tiles, m + xi * stride, v + xi * stride, rows, First != 0, Du + (long)xi * kg * cg);
                else Gemm.Sgemm(false, true, kg, cg, tiles, 1f, m + xi * stride, rows, v + xi * stride, rows, First == 0 ? 0f : 1f,
                    Du + (long)xi * kg * cg, cg);
            }
        }

        /// <summary>Whether the products are summed by <see cref="Dots"/> rather than the GEMM: where the channels are few,
        /// so that the GEMM's packing weighs on its kg x cg outputs and a chunk holds many tiles to amortise the dots'
        /// final sums. Filter gradients at batch 64, 2 threads: 32 -> 32 channels on 32x32 images 5.8 to 4.5 ms, 64 -> 64 on
        /// 16x16 3.6 to 3.3, 32 -> 64 on 16x16 2.0 to 1.9, lenet's 5x5 conv2 3.9 to 3.6; but 64 -> 128 on 8x8 1.3 to 1.5,
        /// 128 -> 128 2.4 to 3.3 (chunks of 144 and 112 tiles).</summary>
        static bool ByDots(in ConvGeometry g) => g.GroupK + g.GroupC <= 128;

        /// <summary>du[k][c] (+)= the dot product of rows k of m and c of v over `tiles` floats, in 4 x 4 blocks of
        /// 16-lane accumulators: both operands read where they lie, rows contiguous along the tiles, where the GEMM packs
        /// them (a transpose of v) for a product only kg x cg large. Rows hold room for a 16-lane read past `tiles`.</summary>
        [SkipLocalsInit, MethodImpl(MethodImplOptions.AggressiveOptimization)]
        static void Dots(int kg, int cg, int tiles, float* m, float* v, int ld, bool add, float* du)
        {
            var tail = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(tiles % 16)).AsSingle();
            int whole = tiles / 16 * 16;
            for (int k0 = 0; k0 < kg; k0 += 4)
            {
                // Rows past the last are its repeats, their sums not stored.
                float* m0 = m + (long)Math.Min(k0, kg - 1) * ld, m1 = m + (long)Math.Min(k0 + 1, kg - 1) * ld;
                float* m2 = m + (long)Math.Min(k0 + 2, kg - 1) * ld, m3 = m + (long)Math.Min(k0 + 3, kg - 1) * ld;
                for (int c0 = 0; c0 < cg; c0 += 4)
                {
                    float* v0 = v + (long)Math.Min(c0, cg - 1) * ld, v1 = v + (long)Math.Min(c0 + 1, cg - 1) * ld;
                    float* v2 = v + (long)Math.Min(c0 + 2, cg - 1) * ld, v3 = v + (long)Math.Min(c0 + 3, cg - 1) * ld;
                    Vector512<float> s00 = default, s01 = default, s02 = default, s03 = default, s10 = default, s11 = default, s12 = default, s13 = default;
                    Vector512<float> s20 = default, s21 = default, s22 = default, s23 = default, s30 = default, s31 = default, s32 = default, s33 = default;
                    for (int t = 0; t < tiles; t += 16)
                    {
                        Vector512<float> a0 = Vector512.Load(m0 + t), a1 = Vector512.Load(m1 + t), a2 = Vector512.Load(m2 + t), a3 = Vector512.Load(m3 + t);
                        Vector512<float> b0 = Vector512.Load(v0 + t), b1 = Vector512.Load(v1 + t), b2 = Vector512.Load(v2 + t), b3 = Vector512.Load(v3 + t);
                        if (t >= whole)
                        {
                            // Past the chunk's tiles: whatever the rows hold there, it adds nothing.
                            a0 = Vector512.ConditionalSelect(tail, a0, default); a1 = Vector512.ConditionalSelect(tail, a1, default);
                            a2 = Vector512.ConditionalSelect(tail, a2, default); a3 = Vector512.ConditionalSelect(tail, a3, default);
                            b0 = Vector512.ConditionalSelect(tail, b0, default); b1 = Vector512.ConditionalSelect(tail, b1, default);
                            b2 = Vector512.ConditionalSelect(tail, b2, default); b3 = Vector512.ConditionalSelect(tail, b3, default);
                        }
                        s00 = Vector512.FusedMultiplyAdd(a0, b0, s00); s01 = Vector512.FusedMultiplyAdd(a0, b1, s01);
                        s02 = Vector512.FusedMultiplyAdd(a0, b2, s02); s03 = Vector512.FusedMultiplyAdd(a0, b3, s03);
                        s10 = Vector512.FusedMultiplyAdd(a1, b0, s10); s11 = Vector512.FusedMultiplyAdd(a1, b1, s11);
                        s12 = Vector512.FusedMultiplyAdd(a1, b2, s12); s13 = Vector512.FusedMultiplyAdd(a1, b3, s13);
                        s20 = Vector512.FusedMultiplyAdd(a2, b0, s20); s21 = Vector512.FusedMultiplyAdd(a2, b1, s21);
                        s22 = Vector512.FusedMultiplyAdd(a2, b2, s22); s23 = Vector512.FusedMultiplyAdd(a2, b3, s23);
                        s30 = Vector512.FusedMultiplyAdd(a3, b0, s30); s31 = Vector512.FusedMultiplyAdd(a3, b1, s31);
                        s32 = Vector512.FusedMultiplyAdd(a3, b2, s32); s33 = Vector512.FusedMultiplyAdd(a3, b3, s33);
                    }
                    // Per column j, the row sums s0j..s3j folded to 4 lanes each (blocks 0..3), then across columns: block i
                    // of z holds row k0 + i's four sums, columns c0..c0 + 3.
                    var z = Lanes4(Fold(s00, s10, s20, s30), Fold(s01, s11, s21, s31), Fold(s02, s12, s22, s32), Fold(s03, s13, s23, s33));
                    for (int i = 0; i < 4 && k0 + i < kg; i++)
                    {
                        float* row = du + (long)(k0 + i) * cg + c0;
                        var sums = i switch { 0 => z.GetLower().GetLower(), 1 => z.GetLower().GetUpper(), 2 => z.GetUpper().GetLower(), _ => z.GetUpper().GetUpper() };
                        if (c0 + 4 <= cg) (add ? Vector128.Load(row) + sums : sums).Store(row);
                        else
                            for (int j = 0; c0 + j < cg; j++) row[j] = add ? row[j] + sums.GetElement(j) : sums.GetElement(j);
                    }
                }
            }
        }

        /// <summary>Four 16-lane sums to one vector whose 128-bit block i holds a partial sum (4 lanes) of si.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static Vector512<float> Fold(Vector512<float> s0, Vector512<float> s1, Vector512<float> s2, Vector512<float> s3)
        {
            // blocks [s0 b0 + b2, s0 b1 + b3, s1 b0 + b2, s1 b1 + b3], the same for s2, s3; then [s0, s1, s2, s3] by block
            var r01 = Avx512F.Shuffle4x128(s0, s1, 0b01_00_01_00) + Avx512F.Shuffle4x128(s0, s1, 0b11_10_11_10);
            var r23 = Avx512F.Shuffle4x128(s2, s3, 0b01_00_01_00) + Avx512F.Shuffle4x128(s2, s3, 0b11_10_11_10);
            return Avx512F.Shuffle4x128(r01, r23, 0b10_00_10_00) + Avx512F.Shuffle4x128(r01, r23, 0b11_01_11_01);
        }

        /// <summary>From w0..w3 (block i of wj: 4 lanes of the sum of row i, column j), z with block i = the four sums of
        /// row i, columns 0..3.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static Vector512<float> Lanes4(Vector512<float> w0, Vector512<float> w1, Vector512<float> w2, Vector512<float> w3)
        {
            var y01 = Avx512F.Shuffle(w0, w1, 0b10_00_10_00) + Avx512F.Shuffle(w0, w1, 0b11_01_11_01);
            var y23 = Avx512F.Shuffle(w2, w3, 0b10_00_10_00) + Avx512F.Shuffle(w2, w3, 0b11_01_11_01);
            return Avx512F.Shuffle(y01, y23, 0b10_00_10_00) + Avx512F.Shuffle(y01, y23, 0b11_01_11_01);
        }

        /// <summary>dM = A dY A^T for tiles [t0, t0 + tiles), output channels [k0, k1) of dy (in Y): m[k][xi][tile], 16
        /// tiles to a vector, each tile's m x m output gradients gathered into lanes (zeros past the outputs' edges): whole
        /// F(4x4) tiles by a 16-byte load per lane and row and a transpose, the others (which may overhang the edges) by
        /// AVX2 gathers of eight lanes. One lane at a time through memory, then by gathers, this step bound the filter gradient
        /// (cifar-bn's conv2: 5 of 13.8 ms on one thread); the loads took a fifth off that layer's gradient.</summary>
        [SkipLocalsInit, MethodImpl(MethodImplOptions.AggressiveOptimization)]
        readonly void GradientTiles(long t0, int tiles, float* m, int k0, int k1)
        {
            int mm = M(G), alpha = Alpha(G), th = TilesH(G), tw = TilesW(G), ho = G.Ho, wo = G.Wo, ld = Stride(Chunk), channel = ChannelStride(G, Chunk);
            bool whole = mm == 4 && WholeTiles(G);
            var lanes = stackalloc float[MaxAlpha * MaxAlpha * Lanes];
            var d = stackalloc Vector512<float>[4 * 4];
            var e = stackalloc Vector512<float>[MaxAlpha * 4];
            var o = stackalloc Vector512<float>[MaxAlpha * MaxAlpha];
            var start = stackalloc long[Lanes]; // each lane's tile: its first output in its image's channel 0
            var top = stackalloc int[Lanes];
            var left = stackalloc int[Lanes];
            var offset = stackalloc int[Lanes];
            var inside = stackalloc Vector512<int>[MaxAlpha * MaxAlpha];
            long plane = (long)ho * wo;
            bool narrow = (long)G.N * G.K * plane <= int.MaxValue; // else one lane at a time (AVX2 comes with this path's AVX-512)
            var upperHalf = Vector512.GreaterThan(Vector512<int>.Indices, Vector512.Create(7)).AsSingle();
            for (int done = 0; done < tiles; done += Lanes)
            {
                int count = Math.Min(Lanes, tiles - done);
                for (int l = 0; l < Lanes; l++)
                {
                    long t = t0 + done + Math.Min(l, count - 1);
                    int j = (int)(t % tw), i = (int)(t / tw % th), n = (int)(t / ((long)tw * th));
                    (top[l], left[l]) = l < count ? (mm * i, mm * j) : (ho, wo); // lanes past the chunk read nothing
                    start[l] = ((long)n * G.K + Group * G.GroupK) * plane + (long)top[l] * wo + left[l];
                }
                // F(4x4, 3x3): every tile is whole, and its rows are four floats: one 16-byte load per lane and row, then a
                // transpose by permutes. Lanes past the chunk re-read its last tile: the products read `tiles` columns.
                // Tiles that may overhang the edges (F(2x2), F(4x4, 5x5)): which of each lane's outputs lie inside the
                // plane (none for lanes past the chunk), and each lane's first output as a 32-bit offset, for gathers of
                // eight lanes.
                Vector256<int> lower = default, upper = default;
                if (whole)
                    for (int l = count; l < Lanes; l++) start[l] = start[count - 1];
                else
                {
                    for (int l = 0; l < Lanes; l++) offset[l] = (int)start[l];
                    (lower, upper) = (Vector256.Load(offset), Vector256.Load(offset + 8));
                    Vector512<int> tops = Vector512.Load(top), lefts = Vector512.Load(left);
                    for (int p = 0; p < mm; p++)
                    for (int q = 0; q < mm; q++)
                        inside[p * mm + q] = Vector512.LessThan(tops + Vector512.Create(p), Vector512.Create(ho)) &
                            Vector512.LessThan(lefts + Vector512.Create(q), Vector512.Create(wo));
                }
                for (int k = k0; k < k1; k++)
                {
                    float* yk = Y + k * plane;
                    if (whole)
                    {
                        for (int p = 0; p < 4; p++)
                        {
                            float* row = yk + (long)p * wo;
                            var r0 = Vector512.Create(Vector256.Create(Vector128.Load(row + start[0]), Vector128.Load(row + start[1])),
                                Vector256.Create(Vector128.Load(row + start[2]), Vector128.Load(row + start[3])));
                            var r1 = Vector512.Create(Vector256.Create(Vector128.Load(row + start[4]), Vector128.Load(row + start[5])),
                                Vector256.Create(Vector128.Load(row + start[6]), Vector128.Load(row + start[7])));
                            var r2 = Vector512.Create(Vector256.Create(Vector128.Load(row + start[8]), Vector128.Load(row + start[9])),
                                Vector256.Create(Vector128.Load(row + start[10]), Vector128.Load(row + start[11])));
                            var r3 = Vector512.Create(Vector256.Create(Vector128.Load(row + start[12]), Vector128.Load(row + start[13])),
                                Vector256.Create(Vector128.Load(row + start[14]), Vector128.Load(row + start[15])));
                            for (int q = 0; q < 4; q++)
                            {
                                // lane i takes column q of lane i's row: source q + 4 (i mod 8) of (r0, r1) below 8, of (r2, r3) above
                                var pick = Vector512.Create(q) + (Vector512<int>.Indices & Vector512.Create(7)) * 4;
                                var lo = Avx512F.PermuteVar16x32x2(r0, pick, r1);
                                var hi = Avx512F.PermuteVar16x32x2(r2, pick, r3);
                                d[p * 4 + q] = Vector512.ConditionalSelect(upperHalf, hi, lo);
                            }
                        }
                    }
                    else
                    for (int p = 0; p < mm; p++)
                    for (int q = 0; q < mm; q++)
                    {
                        int at = p * mm + q;
                        if (narrow)
                        {
                            var shift = Vector256.Create(p * wo + q);
                            var lo = Avx2.GatherMaskVector256(Vector256<float>.Zero, yk, lower + shift, inside[at].GetLower().AsSingle(), 4);
                            var hi = Avx2.GatherMaskVector256(Vector256<float>.Zero, yk, upper + shift, inside[at].GetUpper().AsSingle(), 4);
                            d[at] = Vector512.Create(lo, hi);
                            continue;
                        }
                        float* lane = lanes + at * Lanes;
                        for (int l = 0; l < Lanes; l++)
                            lane[l] = top[l] + p < ho && left[l] + q < wo ? yk[start[l] + p * wo + q] : 0f;
                        d[at] = Vector512.Load(lane);
                    }
                    // e = A dY (down each column), then each row of e times A^T
                    for (int q = 0; q < mm; q++) WinogradTransforms.OutputAdjoint(mm, alpha, d + q, mm, e + q, mm);
                    for (int a = 0; a < alpha; a++) WinogradTransforms.OutputAdjoint(mm, alpha, e + a * mm, 1, o + a * alpha, 1);
                    float* dst = m + (long)k * channel + done;
                    for (int xi = 0; xi < alpha * alpha; xi++) Vector512.Store(o[xi], dst + xi * ld);
                }
            }
        }
    }
}
