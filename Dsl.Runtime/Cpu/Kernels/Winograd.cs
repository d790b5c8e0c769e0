using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Dsl.Runtime.Cpu;

/// <summary>3x3 stride-1 convolutions as Winograd F(2x2, 3x3) (Lavin and Gray 2015): each 2x2 block of outputs from a
/// 4x4 input tile with 16 multiplies per input channel instead of 36, as 16 GEMMs of [K x C] by [C x tiles].</summary>
/// <remarks>Y = A^T [(G g G^T) . (B^T d B)] A. The weights are transformed and packed once per call; threads take chunks
/// of tiles (across images), transform their inputs 16 tiles to a vector, multiply, and write 2x2 blocks with bias and
/// activation. Each output depends on its own tile's column only, summed over channels in an order fixed by C, so the
/// bits do not depend on the thread count or the chunking.</remarks>
internal static unsafe class Winograd
{
    const int Lanes = 16;

    /// <summary>Fewest tiles per thread (two 48-column GEMM panels) for which the transforms pay; below it, and below 16
    /// channels in or out, the im2col path was faster (measured on lenet- and CIFAR-sized layers, docs/performance.md).</summary>
    const int MinChunk = 96, MinChannels = 16;

    /// <summary>Whether g is a 3x3 stride-1 convolution this path can take on this CPU (AVX-512 vectors).</summary>
    static bool Shape(in ConvGeometry g) =>
        Avx512F.IsSupported && g.GroupC >= MinChannels && g.GroupK >= MinChannels && g.R == 3 && g.S == 3 && g.StrideH == 1 && g.StrideW == 1 && g.PadH <= 2 && g.PadW <= 2 &&
        g.Ho == g.H + 2 * g.PadH - 2 && g.Wo == g.W + 2 * g.PadW - 2 && g.Ho > 0 && g.Wo > 0;

    static int TilesH(in ConvGeometry g) => (g.Ho + 1) / 2;
    static int TilesW(in ConvGeometry g) => (g.Wo + 1) / 2;
    static long Tiles(in ConvGeometry g) => (long)g.N * TilesH(g) * TilesW(g);

    /// <summary>Tiles per chunk: as many as keep a chunk's transformed inputs and products near 2 MiB, a multiple of the
    /// GEMM's 48-column panels, and no more than an even share per thread.</summary>
    static int Chunk(in ConvGeometry g, int threads)
    {
        int budget = Math.Max(48, (1 << 19) / (16 * (g.GroupC + g.GroupK)) / 48 * 48);
        return (int)Math.Min(budget, (Tiles(g) + threads - 1) / threads);
    }

    static long TransformedWeights(in ConvGeometry g) => 16L * g.GroupK * g.GroupC;
    /// <summary>Floats between rows of a chunk's transformed inputs and products: room for a whole 16-lane store at the
    /// last tile, so runs of tiles are written without masks (the lanes past a run are overwritten by the next run).</summary>
    static int Stride(int chunk) => (chunk + 31) / 16 * 16;

    static long ChunkFloats(in ConvGeometry g, int chunk) => 16L * (g.GroupC + g.GroupK) * Stride(chunk);

    /// <summary>Workspace floats for g with this many threads; 0 where the path does not apply.</summary>
    public static long WorkspaceFloats(in ConvGeometry g, int threads)
    {
        if (!Shape(g) || Chunk(g, threads) < MinChunk) return 0;
        int chunk = Chunk(g, threads);
        long slices = Math.Min(threads, (Tiles(g) + chunk - 1) / chunk);
        return TransformedWeights(g) + 16 * Gemm.PackedFloats(g.GroupK, g.GroupC) + slices * ChunkFloats(g, chunk);
    }

    /// <summary>y = act(conv(x, w) + bias) when g suits this path and the workspace holds what it needs; false (nothing
    /// written) otherwise.</summary>
    public static bool TryForward(in ConvGeometry g, float* x, float* w, float* bias, float* scale, float* y, Activation act, float actParam,
        float* workspace, long workspaceFloats)
    {
        int threads = CpuThreads.Count;
        long need = WorkspaceFloats(g, threads);
        if (need == 0 || need > workspaceFloats) return false;
        int kg = g.GroupK, cg = g.GroupC, chunk = Chunk(g, threads);
        long packed = Gemm.PackedFloats(kg, cg);
        float* u = workspace, panels = workspace + TransformedWeights(g), chunks = panels + 16 * packed;
        int count = (int)((Tiles(g) + chunk - 1) / chunk);
        for (int grp = 0; grp < g.Groups; grp++)
        {
            TransformWeights(w + (long)grp * kg * cg * 9, kg, cg, u);
            var job = new Job { G = g, Group = grp, X = x, Bias = bias, Scale = scale, Y = y, Act = act, ActParam = actParam, Chunk = chunk,
                Count = count, Slices = Math.Min(threads, count), Scratch = chunks };
            for (int xi = 0; xi < 16; xi++)
                job.Weights[xi] = Gemm.Pack(false, u + xi * (long)kg * cg, cg, kg, cg, panels + xi * packed);
            CpuThreads.For(job.Slices, 1, ref job);
        }
        return true;
    }

    /// <summary>u[xi][k][c] = (G g G^T)[xi] for each 3x3 filter g = w[k][c].</summary>
    static void TransformWeights(float* w, int kg, int cg, float* u)
    {
        long plane = (long)kg * cg;
        for (int k = 0; k < kg; k++)
        for (int c = 0; c < cg; c++)
        {
            float* f = w + ((long)k * cg + c) * 9;
            Span<float> t = stackalloc float[12]; // G g: 4 rows of 3
            for (int s = 0; s < 3; s++)
            {
                float g0 = f[s], g1 = f[3 + s], g2 = f[6 + s];
                t[s] = g0;
                t[3 + s] = 0.5f * (g0 + g1 + g2);
                t[6 + s] = 0.5f * (g0 - g1 + g2);
                t[9 + s] = g2;
            }
            float* o = u + (long)k * cg + c;
            for (int a = 0; a < 4; a++)
            {
                float v0 = t[3 * a], v1 = t[3 * a + 1], v2 = t[3 * a + 2];
                o[(4 * a + 0) * plane] = v0;
                o[(4 * a + 1) * plane] = 0.5f * (v0 + v1 + v2);
                o[(4 * a + 2) * plane] = 0.5f * (v0 - v1 + v2);
                o[(4 * a + 3) * plane] = v2;
            }
        }
    }

    [InlineArray(16)]
    struct SixteenPacked
    {
        PackedA first;
    }

    struct Job : IParallelJob
    {
        public ConvGeometry G;
        public int Group, Chunk, Count, Slices;
        public float* X, Bias, Scale, Y, Scratch;
        public Activation Act;
        public float ActParam;
        public SixteenPacked Weights;

        public void Run(int begin, int end)
        {
            int kg = G.GroupK, cg = G.GroupC;
            for (int slice = begin; slice < end; slice++)
            {
                int ld = Stride(Chunk);
                float* v = Scratch + slice * ChunkFloats(G, Chunk), m = v + 16L * cg * ld;
                // Chunks dealt round-robin: slice s takes chunks s, s + Slices, ... (the results do not depend on who).
                for (int c = slice; c < Count; c += Slices)
                {
                    long t0 = (long)c * Chunk;
                    int tiles = (int)Math.Min(Chunk, Tiles(G) - t0);
                    Segments(t0, tiles, v, m, input: true);
                    for (int xi = 0; xi < 16; xi++)
                        Gemm.Run(Weights[xi], false, kg, tiles, cg, 1f, v + xi * (long)cg * ld, ld, 0f, m + xi * (long)kg * ld, ld, default);
                    Segments(t0, tiles, v, m, input: false);
                }
            }
        }

        /// <summary>Walks tiles [t0, t0 + tiles) as runs of up to 16 along one tile row, transforming inputs into v or
        /// products in m into outputs.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        readonly void Segments(long t0, int tiles, float* v, float* m, bool input)
        {
            int th = TilesH(G), tw = TilesW(G);
            for (int done = 0; done < tiles;)
            {
                long t = t0 + done;
                int j = (int)(t % tw), i = (int)(t / tw % th), n = (int)(t / ((long)tw * th));
                int count = Math.Min(Math.Min(Lanes, tw - j), tiles - done);
                if (input) InputTiles(n, i, j, count, v + done);
                else OutputTiles(n, i, j, count, m + done);
                done += count;
            }
        }

        /// <summary>B^T d B for `count` tiles (i, j..j+count) of image n, every channel: v[xi][c][lane].</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        readonly void InputTiles(int n, int i, int j, int count, float* v)
        {
            var lane = Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
            var evens = lane * 2;
            var odds = evens + Vector512<int>.One;
            int cs = 2 * j - G.PadW, cg = G.GroupC;
            // Input columns cs + q for q < 2 * count + 2 that lie inside the row; one mask per 16-float load.
            var last = Vector512.Create(Math.Min(G.W, cs + 2 * count + 2));
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            Vector512<float> Mask(int offset)
            {
                var q = lane + Vector512.Create(cs + offset);
                return (Vector512.GreaterThanOrEqual(q, Vector512<int>.Zero) & Vector512.LessThan(q, last)).AsSingle();
            }
            var m0 = Mask(0); var m1 = Mask(16); var m2 = Mask(2); var m3 = Mask(18);
            var zero = Vector512<float>.Zero;
            int height = G.H, width = G.W;
            bool inside = cs >= 0 && cs + 34 <= width; // all 34 floats in the row: plain loads
            int ld = Stride(Chunk);
            long plane = (long)cg * ld;
            for (int c = 0; c < cg; c++)
            {
                float* xc = X + ((long)n * G.C + Group * cg + c) * G.H * G.W;
                // d[r][q]: input row 2i - pad + r, column cs + 2 * lane + q
                Vector512<float> d00, d01, d02, d03, d10, d11, d12, d13, d20, d21, d22, d23, d30, d31, d32, d33;
                Row(xc, 2 * i - G.PadH + 0, cs, m0, m1, m2, m3, evens, odds, out d00, out d01, out d02, out d03);
                Row(xc, 2 * i - G.PadH + 1, cs, m0, m1, m2, m3, evens, odds, out d10, out d11, out d12, out d13);
                Row(xc, 2 * i - G.PadH + 2, cs, m0, m1, m2, m3, evens, odds, out d20, out d21, out d22, out d23);
                Row(xc, 2 * i - G.PadH + 3, cs, m0, m1, m2, m3, evens, odds, out d30, out d31, out d32, out d33);
                float* o = v + (long)c * ld;
                // B^T d (rows), then (.) B (columns)
                Columns(d00 - d20, d01 - d21, d02 - d22, d03 - d23, o, 0, plane);
                Columns(d10 + d20, d11 + d21, d12 + d22, d13 + d23, o, 4, plane);
                Columns(d20 - d10, d21 - d11, d22 - d12, d23 - d13, o, 8, plane);
                Columns(d10 - d30, d11 - d31, d12 - d32, d13 - d33, o, 12, plane);
            }

            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            void Row(float* xc, int ih, int cs, Vector512<float> m0, Vector512<float> m1, Vector512<float> m2, Vector512<float> m3,
                Vector512<int> evens, Vector512<int> odds,
                out Vector512<float> q0, out Vector512<float> q1, out Vector512<float> q2, out Vector512<float> q3)
            {
                if ((uint)ih >= (uint)height)
                {
                    q0 = q1 = q2 = q3 = zero;
                    return;
                }
                float* r = xc + (long)ih * width + cs;
                Vector512<float> a, b, c2, d2;
                if (inside)
                {
                    a = Vector512.Load(r); b = Vector512.Load(r + 16); c2 = Vector512.Load(r + 2); d2 = Vector512.Load(r + 18);
                }
                else
                {
                    a = Avx512F.MaskLoad(r, m0, zero); b = Avx512F.MaskLoad(r + 16, m1, zero);
                    c2 = Avx512F.MaskLoad(r + 2, m2, zero); d2 = Avx512F.MaskLoad(r + 18, m3, zero);
                }
                q0 = Avx512F.PermuteVar16x32x2(a, evens, b);
                q1 = Avx512F.PermuteVar16x32x2(a, odds, b);
                q2 = Avx512F.PermuteVar16x32x2(c2, evens, d2);
                q3 = Avx512F.PermuteVar16x32x2(c2, odds, d2);
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static void Columns(Vector512<float> e0, Vector512<float> e1, Vector512<float> e2, Vector512<float> e3, float* o, int xi, long plane)
        {
            Vector512.Store(e0 - e2, o + xi * plane);
            Vector512.Store(e1 + e2, o + (xi + 1) * plane);
            Vector512.Store(e2 - e1, o + (xi + 2) * plane);
            Vector512.Store(e1 - e3, o + (xi + 3) * plane);
        }

        /// <summary>A^T m A plus bias and activation for `count` tiles (i, j..) of image n, every output channel.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        readonly void OutputTiles(int n, int i, int j, int count, float* m)
        {
            var lane = Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
            var low = Vector512.Create(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
            var high = Vector512.Create(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
            int kg = G.GroupK, wo = G.Wo, col = 2 * j;
            int width = Math.Min(2 * count, wo - col); // output columns this run writes
            var m0 = Vector512.LessThan(lane, Vector512.Create(width)).AsSingle();
            var m1 = Vector512.LessThan(lane + Vector512.Create(16), Vector512.Create(width)).AsSingle();
            bool second = 2 * i + 1 < G.Ho;
            var act = Act;
            float actParam = ActParam;
            bool fused = act is Activation.None or Activation.Relu or Activation.LeakyRelu;
            var slope = Vector512.Create(actParam);
            int ld = Stride(Chunk);
            long plane = (long)kg * ld;
            for (int k = 0; k < kg; k++)
            {
                float* p = m + (long)k * ld;
                [MethodImpl(MethodImplOptions.AggressiveInlining)]
                Vector512<float> M(int xi) => Vector512.Load(p + xi * plane);
                // A^T m: rows 0 and 1 of four columns, then (.) A
                var x00 = M(0) + M(4) + M(8); var x01 = M(1) + M(5) + M(9); var x02 = M(2) + M(6) + M(10); var x03 = M(3) + M(7) + M(11);
                var x10 = M(4) - M(8) - M(12); var x11 = M(5) - M(9) - M(13); var x12 = M(6) - M(10) - M(14); var x13 = M(7) - M(11) - M(15);
                var b = Vector512.Create(Bias == null ? 0f : Bias[Group * kg + k]);
                var s = Vector512.Create(Scale == null ? 1f : Scale[Group * kg + k]); // times 1 plus b rounds as plus b
                float* yr = Y + (((long)n * G.K + Group * kg + k) * G.Ho + 2 * i) * wo + col;
                Write(yr, Vector512.FusedMultiplyAdd(x00 + x01 + x02, s, b), Vector512.FusedMultiplyAdd(x01 - x02 - x03, s, b));
                if (second) Write(yr + wo, Vector512.FusedMultiplyAdd(x10 + x11 + x12, s, b), Vector512.FusedMultiplyAdd(x11 - x12 - x13, s, b));
            }

            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            void Write(float* yr, Vector512<float> even, Vector512<float> odd)
            {
                // The rectifiers as the GEMM epilogue applies them (max with 0; a sign select for the leaky one).
                if (act == Activation.Relu)
                {
                    even = Vector512.Max(even, Vector512<float>.Zero);
                    odd = Vector512.Max(odd, Vector512<float>.Zero);
                }
                else if (act == Activation.LeakyRelu)
                {
                    even = Vector512.ConditionalSelect(Vector512.GreaterThan(even, Vector512<float>.Zero), even, even * slope);
                    odd = Vector512.ConditionalSelect(Vector512.GreaterThan(odd, Vector512<float>.Zero), odd, odd * slope);
                }
                // Masks only where the run ends inside a 16-float half (masked stores are slow on some cores).
                if (width >= 16) Vector512.Store(Avx512F.PermuteVar16x32x2(even, low, odd), yr);
                else Avx512F.MaskStore(yr, m0, Avx512F.PermuteVar16x32x2(even, low, odd));
                if (width >= 32) Vector512.Store(Avx512F.PermuteVar16x32x2(even, high, odd), yr + 16);
                else if (width > 16) Avx512F.MaskStore(yr + 16, m1, Avx512F.PermuteVar16x32x2(even, high, odd));
                if (!fused) Activations.Apply(act, actParam, yr, yr, width);
            }
        }
    }
}
