using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Threading;

namespace Dsl.Runtime.Cpu;

/// <summary>3x3 and 5x5 stride-1 convolutions as Winograd F(mxm, rxr) (Lavin and Gray 2015): each mxm block of outputs
/// from an alpha x alpha input tile (alpha = m + r - 1) with alpha^2 multiplies per input channel instead of m^2 r^2, as
/// alpha^2 GEMMs of [K x C] by [C x tiles]. F(2x2, 3x3): 16 instead of 36; F(4x4, 3x3): 36 instead of 144, where the
/// outputs come in whole 4x4 tiles (<see cref="M"/>); F(4x4, 5x5): 64 instead of 400.</summary>
/// <remarks>Y = A^T [(G g G^T) . (B^T d B)] A with the matrices of <see cref="WinogradTransforms"/>. The weights are
/// transformed and packed once per call, or once for many calls by <see cref="Prepare"/>. With enough tiles, threads
/// take chunks of tiles (across images), transform their inputs 16 tiles to a vector, multiply, and write 2x2 blocks
/// with scale, bias and activation. With too few for that (one small image), all the tiles are one chunk, split by output
/// channel: each thread transforms every input itself, then multiplies and transforms back its own channels. Each output depends on its own
/// tile's column only, summed over channels in an order fixed by C, so the bits do not depend on the thread count, the
/// chunking or the mode.</remarks>
internal static unsafe partial class Winograd
{
    const int Lanes = 16, MaxAlpha = 8;

    /// <summary>Fewest tiles per thread (two 48-column GEMM panels; F(4x4): 32, see <see cref="Whole"/>) for a chunk per
    /// thread; below it all the tiles are one chunk whose output channels the threads split. Below 16 channels in or out the im2col path was faster (measured on
    /// lenet- and CIFAR-sized layers, docs/performance.md).</summary>
    const int MinChunk = 96, MinWideChunk = 32, MinChannels = 16;

    /// <summary>Most floats of transformed inputs and products for the one-chunk mode (16 MiB); past it, im2col.</summary>
    const long MaxWhole = 1L << 22;

    /// <summary>Whether g is a 3x3 or 5x5 stride-1 convolution this path can take on this CPU (AVX-512 vectors).</summary>
    static bool Shape(in ConvGeometry g) =>
        Avx512F.IsSupported && WinogradTransforms.G(M(g), g.R) is not null && g.S == g.R && g.GroupC >= MinChannels && g.GroupK >= MinChannels &&
        g.StrideH == 1 && g.StrideW == 1 && g.PadH < g.R && g.PadW < g.R &&
        g.Ho == g.H + 2 * g.PadH - g.R + 1 && g.Wo == g.W + 2 * g.PadW - g.R + 1 && g.Ho > 0 && g.Wo > 0;

    /// <summary>Outputs per tile side: 4 for a 3x3 convolution whose outputs are whole 4x4 tiles, in rows that whole
    /// runs of 4 (or 2) tiles fill or overhang by at most a quarter (VGG16's 28- and 56-wide rows of 7 and 14 tiles, run
    /// as 8 and 16, their last tile's outputs not written), with at least 16 tiles in all (the GEMMs' narrowest full
    /// slice; cifar-bn's 8x8 layers at batch 1 have 4), else 2; 4 for a 5x5 one, its rows of tiles rounded up to whole
    /// runs (<see cref="TilesW"/>) and the tiles' outputs past the edges not written. F(4x4, 5x5) took lenet's conv2
    /// from 4.8 to 2.9 ms at batch 64 (16 tiles of 64 products an image against F(2x2, 5x5)'s 49 of 36) and a 5x5 layer
    /// on 64x64 images from 10.9 to 6.8.</summary>
    static int M(in ConvGeometry g) =>
        g.R == 5 || g.R == 3 && g.S == 3 && g.Ho % 4 == 0 && g.Wo % 4 == 0 && WholeRuns(g.Wo / 4) * 4 <= g.Wo / 4 * 5 &&
        (long)g.N * (g.Ho / 4) * (g.Wo / 4) >= 16 ? 4 : 2;

    /// <summary>Tiles per row of F(4x4) tiles: whole runs of 4 tiles (one run of 2 for rows of at most 2).</summary>
    static int WholeRuns(int tiles) => tiles <= 2 ? 2 : (tiles + 3) / 4 * 4;

    static int Alpha(in ConvGeometry g) => M(g) + g.R - 1;
    static int Products(in ConvGeometry g) => Alpha(g) * Alpha(g);
    static int TilesH(in ConvGeometry g) => (g.Ho + M(g) - 1) / M(g);
    static int TilesW(in ConvGeometry g) => M(g) == 4 ? WholeRuns((g.Wo + 3) / 4) : (g.Wo + 1) / 2;

    /// <summary>Whether every tile lies inside the outputs (F(4x4, 3x3)'s do; F(2x2, 3x3) and F(4x4, 5x5) ones may
    /// overhang the edges).</summary>
    static bool WholeTiles(in ConvGeometry g) => M(g) * TilesH(g) == g.Ho && M(g) * TilesW(g) == g.Wo;
    static long Tiles(in ConvGeometry g) => (long)g.N * TilesH(g) * TilesW(g);

    /// <summary>Tiles per chunk: as many as keep a chunk's transformed inputs and products near 2 MiB, a multiple of the
    /// GEMM's 48-column panels, and no more than an even share per thread (rounded up to 16 tiles, which F(4x4, 3x3)
    /// takes as whole runs); but at least MinChunk, past 2 MiB where the channels are many (VGG16's 256 and 512: still
    /// well ahead of im2col once the weights are prepared, 21 to 12 ms on its 56x56 layers at batch 1).</summary>
    static int Chunk(in ConvGeometry g, int threads)
    {
        // F(4x4, 3x3) chunks stay within L2 (512 KiB, at least 48 tiles): 1 MiB ones ran cifar-bn's layers 20-30% slower.
        (int floats, int least) = M(g) == 4 ? (1 << 17, 48) : (1 << 19, MinChunk);
        int budget = Math.Max(least, floats / (Products(g) * (g.GroupC + g.GroupK)) / 48 * 48);
        return (int)Math.Min(budget, (Tiles(g) + threads - 1) / threads + 15) / 16 * 16;
    }

    static long TransformedWeights(in ConvGeometry g) => (long)Products(g) * g.GroupK * g.GroupC;

    /// <summary>Whether all the tiles form one chunk whose output channels the threads split (too few tiles for a chunk each).
    /// F(4x4) takes chunks from 32 tiles a thread: cifar-bn's conv2 at batch 1 (64 tiles) ran 0.046 ms on 2 threads
    /// instead of 0.053, its transformed inputs and products staying on their thread's core, not handed across between
    /// the steps (docs/experiments/cifar-bn-profile.md).</summary>
    static bool Whole(in ConvGeometry g, int threads) => (Tiles(g) + threads - 1) / threads < (M(g) == 4 ? MinWideChunk : MinChunk);

    static int ChunkTiles(in ConvGeometry g, int threads) => Whole(g, threads) ? (int)Tiles(g) : Chunk(g, threads);

    /// <summary>One chunk of every tile needs to fit in MaxWhole.</summary>
    static bool Applies(in ConvGeometry g, int threads) =>
        Shape(g) && (!Whole(g, threads) || ChunkFloats(g, (int)Tiles(g)) <= MaxWhole);

    /// <summary>Floats of the weights <see cref="Prepare"/> writes for g: every group's (r+1)^2 transformed, packed
    /// matrices; 0 where this path does not take g.</summary>
    public static long PreparedFloats(in ConvGeometry g, int threads) => Applies(g, threads) ? g.Groups * GroupFloats(g) : 0;

    /// <summary>Transforms and packs w for <see cref="TryForward"/> (using the front of the workspace as scratch).</summary>
    public static void Prepare(in ConvGeometry g, float* w, float* prepared, float* workspace)
    {
        for (int grp = 0; grp < g.Groups; grp++) PrepareGroup(g, w, grp, workspace, prepared + grp * GroupFloats(g));
    }

    /// <summary>Floats of one group's transformed, packed weights: (r+1)^2 panel sets.</summary>
    static long GroupFloats(in ConvGeometry g) => Products(g) * Gemm.PackedFloats(g.GroupK, g.GroupC);

    /// <summary>Group grp's weights transformed (into scratch) and packed into dst, product after product. The transform
    /// is split between threads by output channel: training transforms the weights in every forward pass and input
    /// gradient, and serial it took about 1 ms of lenet's 5x5 conv2 (64 products of 2,048 filters, in double).</summary>
    static void PrepareGroup(in ConvGeometry g, float* w, int grp, float* scratch, float* dst)
    {
        int kg = g.GroupK, cg = g.GroupC;
        TransformFilters(g, false, w + (long)grp * kg * cg * g.R * g.R, scratch);
        for (int xi = 0; xi < Products(g); xi++)
            Gemm.Pack(false, scratch + xi * (long)kg * cg, cg, kg, cg, dst + xi * Gemm.PackedFloats(kg, cg));
    }

    /// <summary>Whether <see cref="TryForward"/> takes g with this workspace at the current thread count.</summary>
    public static bool Takes(in ConvGeometry g, long workspaceFloats) =>
        WorkspaceFloats(g, CpuThreads.Count) is > 0 and var need && need <= workspaceFloats;

    /// <summary>Floats between rows of a chunk's transformed inputs and products: room for a whole 16-lane store at the
    /// last tile, so runs of tiles are written without masks (the lanes past a run are overwritten by the next run).</summary>
    static int Stride(int chunk) => (chunk + 31) / 16 * 16;

    /// <summary>A chunk's transformed inputs v[c][xi][tile] and products m[k][xi][tile]: the (r+1)^2 rows a transform
    /// touches for one channel lie together (a few pages, not one page per product: the TLB misses of that layout cost
    /// more than the arithmetic), and the GEMM of product xi reads and writes every (r+1)^2-th row.</summary>
    static long ChunkFloats(in ConvGeometry g, int chunk) => (long)(g.GroupC + g.GroupK) * ChannelStride(g, chunk);

    /// <summary>Floats from one channel's (r+1)^2 rows of a chunk to the next channel's: a cache line more where they
    /// would be a multiple of 4 KiB apart (F(4x4, 5x5)'s 64 rows always are). There, every channel's row of one product,
    /// which its GEMM reads in turn, fell in the same L1 set: one thread's share of lenet's conv2 products, alone, took
    /// 14.0 µs against 12.2 with the line.</summary>
    static int ChannelStride(in ConvGeometry g, int chunk)
    {
        int rows = Products(g) * Stride(chunk);
        return rows % 1024 == 0 ? rows + 16 : rows;
    }

    /// <summary>Workspace floats for g with this many threads: a group's weights transformed and packed, where they are
    /// not prepared (the chunks are each thread's own, <see cref="ChunkScratch"/>); 0 where the path does not apply.</summary>
    public static long WorkspaceFloats(in ConvGeometry g, int threads) =>
        Applies(g, threads) ? TransformedWeights(g) + GroupFloats(g) : 0;

    /// <summary>The calling thread's chunk scratch (<see cref="ChunkFloats"/>), the same memory for every layer: as
    /// slices of the shared workspace, a thread's chunk lay where the other thread's had lain in the layer before (the
    /// slices' size changes with the layer), and each layer first took those lines from the other core's cache. cifar-bn
    /// at batch 1: conv3 went from 27.9 to 25.3 µs in the network, conv4 from 46.5 to 40.2.</summary>
    static float* ChunkScratch(in ConvGeometry g, int chunk) => Gemm.Scratch(ref t_chunk, ChunkFloats(g, chunk));

    [ThreadStatic] static float[]? t_chunk;

    /// <summary>The forward call and the group whose inputs the calling thread's chunk scratch holds, in the one-chunk mode.</summary>
    [ThreadStatic] static long t_call;
    [ThreadStatic] static int t_group;
    static long _calls;

    /// <summary>y = act(conv(x, w) * scale + bias) when g suits this path and the workspace holds what it needs; false
    /// (nothing written) otherwise. <paramref name="prepared"/>, when given, holds w as <see cref="Prepare"/> wrote it.
    /// With <paramref name="pooled"/> (even output sizes), each tile's 2x2 outputs go there as their maximum instead of
    /// into y: a following `maxpool 2`, for an activation that commutes with max.</summary>
    public static bool TryForward(in ConvGeometry g, float* x, float* w, float* prepared, float* bias, float* scale, float* y,
        Activation act, float actParam, float* workspace, long workspaceFloats, float* pooled = null)
    {
        if (!Takes(g, workspaceFloats)) return false;
        int threads = CpuThreads.Count;
        if (pooled != null && (g.Ho % 2 != 0 || g.Wo % 2 != 0 || act is not (Activation.None or Activation.Relu or Activation.LeakyRelu)))
            throw new ArgumentException($"a 2x2 pooling cannot be taken from the tiles of {g} with {act}");
        int kg = g.GroupK, cg = g.GroupC, chunk = ChunkTiles(g, threads), products = Products(g);
        long packed = Gemm.PackedFloats(kg, cg);
        // The workspace: scratch for a group's transform, then that group's packed weights.
        float* panels = workspace + TransformedWeights(g);
        int count = (int)((Tiles(g) + chunk - 1) / chunk);
        long call = Interlocked.Increment(ref _calls);
        for (int grp = 0; grp < g.Groups; grp++)
        {
            var job = new Job { G = g, Group = grp, X = x, Bias = bias, Scale = scale, Y = y, Act = act, ActParam = actParam, Chunk = chunk,
                Call = call, Pooled = pooled };
            float* weights = prepared != null ? prepared + grp * GroupFloats(g) : panels;
            if (prepared == null) PrepareGroup(g, w, grp, workspace, panels);
            for (int xi = 0; xi < products; xi++) job.Weights[xi] = new PackedA(false, null, cg, weights + xi * packed);
            if (!Whole(g, threads))
            {
                CpuThreads.ForEach(count, 1, Math.Min(threads, count), ref job);
                continue;
            }
            // One chunk of every tile, split by output channel: each thread transforms all the inputs itself, then
            // multiplies and transforms back its own channels' products. Split step by step instead (inputs by channel,
            // then products, then outputs), every step read what the other core had just written, and two threads ran
            // cifar-bn's 8x8 and 16x16 layers barely faster than one.
            job.Step = Step.Whole;
            int blocks = (kg + GemmMicroKernel.MR - 1) / GemmMicroKernel.MR;
            CpuThreads.ForEach(blocks, (blocks + threads - 1) / threads, threads, ref job);
        }
        return true;
    }

    /// <summary>p rounded up to 64 bytes: the GEMMs read the transformed inputs in place when their rows are aligned.</summary>
    static float* Aligned(float* p) => (float*)(((nint)p + 63) & ~(nint)63);

    /// <summary>What <see cref="Job.Run"/> splits: chunks of tiles; the one chunk's output channels, in blocks of the
    /// GEMM's panel rows (<see cref="Step.Whole"/>); or for the filter gradient's chunks, the input channels of the chunk
    /// at <see cref="Job.First"/>, its output channels of dy, or its products.</summary>
    enum Step { Chunks, Whole, Inputs, Gradients, FilterProducts }

    /// <summary>A group's filters through <see cref="TransformWeights"/> (from w to u), or back through its adjoint
    /// <see cref="TransformGradients"/> (from dU to dw), split between threads by output channel (each filter's sums are
    /// the same whoever computes them).</summary>
    static void TransformFilters(in ConvGeometry g, bool adjoint, float* from, float* to)
    {
        fixed (double* gm = WinogradTransforms.G(M(g), g.R))
        {
            var job = new FilterTransformJob { G = gm, N = Alpha(g), R = g.R, Kg = g.GroupK, Cg = g.GroupC, From = from, To = to, Adjoint = adjoint };
            CpuThreads.For(g.GroupK, 1, ref job);
        }
    }

    struct FilterTransformJob : IParallelJob
    {
        public double* G;
        public int N, R, Kg, Cg;
        public float* From, To;
        public bool Adjoint;

        public readonly void Run(int begin, int end)
        {
            if (Adjoint) TransformGradients(G, N, R, From, Kg, Cg, To, begin, end);
            else TransformWeights(G, N, R, From, Kg, Cg, To, begin, end);
        }
    }

    /// <summary>u[xi][k][c] = (G g G^T)[xi] for each r x r filter g = w[k][c], k in [k0, k1), summed in double; G is n x r,
    /// row-major. Eight filters (consecutive c, the last eight masked to the channels left) at a time in the lanes of
    /// double vectors, each lane with a scalar loop's products and sums in its order (a multiply, then an add). Scalar,
    /// the transform took 1.0 of cifar-bn's conv6's 3.3 ms in training.</summary>
    [SkipLocalsInit]
    static void TransformWeights(double* gm, int n, int r, float* w, int kg, int cg, float* u, int k0, int k1)
    {
        long plane = (long)kg * cg;
        int rr = r * r;
        var f = stackalloc Vector512<double>[25];
        var gg = stackalloc Vector512<double>[MaxAlpha * 5];
        var lanes = Vector256<int>.Indices * Vector256.Create(rr);
        for (int k = k0; k < k1; k++)
        for (int c = 0; c < cg; c += 8)
        {
            var inside = Vector256.LessThan(Vector256<int>.Indices, Vector256.Create(cg - c)).AsSingle();
            float* w8 = w + ((long)k * cg + c) * rr;
            for (int e = 0; e < rr; e++)
                f[e] = Avx512F.ConvertToVector512Double(Avx2.GatherMaskVector256(Vector256<float>.Zero, w8 + e, lanes, inside, 4));
            for (int a = 0; a < n; a++)
            for (int s = 0; s < r; s++)
            {
                var sum = Vector512<double>.Zero;
                for (int q = 0; q < r; q++) sum += Vector512.Create(gm[a * r + q]) * f[q * r + s];
                gg[a * r + s] = sum;
            }
            float* o = u + (long)k * cg + c;
            for (int a = 0; a < n; a++)
            for (int b = 0; b < n; b++)
            {
                var sum = Vector512<double>.Zero;
                for (int s = 0; s < r; s++) sum += gg[a * r + s] * Vector512.Create(gm[b * r + s]);
                var result = Avx512F.ConvertToVector256Single(sum);
                if (c + 8 <= cg) result.Store(o + (a * n + b) * plane);
                else Avx.MaskStore(o + (a * n + b) * plane, inside, result);
            }
        }
    }

    [InlineArray(MaxAlpha * MaxAlpha)]
    struct PackedWeights
    {
        PackedA first;
    }

    partial struct Job : IParallelJob
    {
        public ConvGeometry G;
        public int Group, Chunk;
        public long First;
        public Step Step;
        public float* X, Bias, Scale, Y, Scratch, Pooled, Du;
        public long Call;
        public Activation Act;
        public float ActParam;
        public PackedWeights Weights;

        public void Run(int begin, int end)
        {
            int kg = G.GroupK, cg = G.GroupC;
            if (Step == Step.Whole)
            {
                WholeBlocks(begin, end);
                return;
            }
            if (Step != Step.Chunks)
            {
                int tiles = (int)Math.Min(Chunk, Tiles(G) - First);
                float* v = Scratch, m = v + (long)cg * ChannelStride(G, Chunk);
                if (Step == Step.Gradients) GradientTiles(First, tiles, m, begin, end);
                else if (Step == Step.FilterProducts) AddProducts(tiles, v, m, begin, end);
                else Segments(First, tiles, v, m, Step == Step.Inputs, begin, end);
                return;
            }
            // Chunks [begin, end), taken in turn, in this thread's own chunk scratch (the results do not depend on who).
            float* vc = ChunkScratch(G, Chunk), mc = vc + (long)cg * ChannelStride(G, Chunk);
            for (int c = begin; c < end; c++)
            {
                long t0 = (long)c * Chunk;
                int tiles = (int)Math.Min(Chunk, Tiles(G) - t0);
                Segments(t0, tiles, vc, mc, true, 0, cg);
                ProductsAndOutputs(t0, tiles, vc, mc, 0, kg);
            }
        }

        /// <summary>The one chunk's output channels in panel blocks [begin, end): the inputs transformed into this
        /// thread's own chunk scratch (once a call and group), then those channels' products and outputs.</summary>
        void WholeBlocks(int begin, int end)
        {
            int tiles = (int)Tiles(G);
            float* v = ChunkScratch(G, Chunk), m = v + (long)G.GroupC * ChannelStride(G, Chunk);
            if (t_call != Call || t_group != Group)
            {
                Segments(0, tiles, v, m, true, 0, G.GroupC);
                (t_call, t_group) = (Call, Group);
            }
            ProductsAndOutputs(0, tiles, v, m, begin * GemmMicroKernel.MR, Math.Min(end * GemmMicroKernel.MR, G.GroupK));
        }

        /// <summary>Output channels [k0, k1) of tiles [t0, t0 + tiles), from their transformed inputs in v: every product
        /// m[k][xi] = U[xi] v[.][xi] (a product's rows <see cref="ChannelStride"/> apart, product xi's at xi * Stride; the
        /// transformed inputs read in place where aligned, their rows having room past the last tile), then the output
        /// transform.</summary>
        readonly void ProductsAndOutputs(long t0, int tiles, float* v, float* m, int k0, int k1)
        {
            int stride = Stride(Chunk), rows = ChannelStride(G, Chunk);
            for (int xi = 0; xi < Products(G); xi++)
            {
                float* b = v + xi * stride;
                Gemm.RunRows(Weights[xi], k0, k1, G.GroupK, tiles, G.GroupC, b, rows, m + xi * stride, rows, Gemm.ReadsBInPlace(G.GroupC, b, rows));
            }
            Segments(t0, tiles, v, m, false, k0, k1);
        }

        /// <summary>Walks tiles [t0, t0 + tiles) as runs of up to 16 along one tile row, or two whole short tile rows,
        /// transforming inputs of channels [c0, c1) into v, or products of output channels [c0, c1) in m into outputs.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        readonly void Segments(long t0, int tiles, float* v, float* m, bool input, int c0, int c1)
        {
            if (M(G) == 4)
            {
                WideSegments(t0, tiles, v, m, input, c0, c1);
                return;
            }
            int th = TilesH(G), tw = TilesW(G);
            for (int done = 0; done < tiles;)
            {
                long t = t0 + done;
                int j = (int)(t % tw), i = (int)(t / tw % th), n = (int)(t / ((long)tw * th));
                // Rows of 8 tiles or fewer go two to a vector (lenet's 7-tile rows filled 7 of 16 lanes).
                bool pair = j == 0 && 2 * tw <= Lanes && i + 1 < th && tiles - done >= 2 * tw;
                int count = pair ? tw : Math.Min(Math.Min(Lanes, tw - j), tiles - done);
                if (input) InputTiles(n, i, j, count, pair, v + done, c0, c1);
                else OutputTiles(n, i, j, count, pair, m + done, c0, c1);
                done += pair ? 2 * count : count;
            }
        }

        /// <summary>B^T d B for `count` tiles (i, j..j+count) of image n, and as many of row i + 1 in the lanes after them
        /// when `pair`, channels [c0, c1): v[c][xi][lane].</summary>
        [SkipLocalsInit, MethodImpl(MethodImplOptions.AggressiveOptimization)]
        readonly void InputTiles(int n, int i, int j, int count, bool pair, float* v, int c0, int c1)
        {
            var lane = Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
            var evens = lane * 2;
            var odds = evens + Vector512<int>.One;
            int alpha = Alpha(G), cs = 2 * j - G.PadW, cg = G.GroupC, height = G.H, width = G.W;
            // Input columns cs + q for q < 2 * count + alpha - 2 that lie inside the row; one mask per 16-float load
            // (loads at 0 and 16, 2 and 18 give columns 2 lane + 0..3).
            var last = Vector512.Create(Math.Min(width, cs + 2 * count + alpha - 2));
            var masks = stackalloc Vector512<float>[MaxAlpha];
            for (int h = 0; h < alpha; h++)
            {
                var q = lane + Vector512.Create(cs + (h & 1) * 16 + h / 2 * 2);
                masks[h] = (Vector512.GreaterThanOrEqual(q, Vector512<int>.Zero) & Vector512.LessThan(q, last)).AsSingle();
            }
            bool inside = cs >= 0 && cs + 30 + alpha <= width; // every column in the row: plain loads
            var d = stackalloc Vector512<float>[MaxAlpha * MaxAlpha];
            var e = stackalloc Vector512<float>[MaxAlpha * MaxAlpha];
            var zero = Vector512<float>.Zero;
            // lanes below count from the first row's vector, the rest from the second's lane 0 on
            var join = Vector512.ConditionalSelect(Vector512.LessThan(lane, Vector512.Create(count)), lane, lane + Vector512.Create(16 - count));
            int ld = Stride(Chunk), channel = ChannelStride(G, Chunk);
            for (int c = c0; c < c1; c++)
            {
                float* xc = X + ((long)n * G.C + Group * cg + c) * height * width;
                // d[p][q]: input row 2i - pad + p, column cs + 2 lane + q (for the second row's lanes, 2 rows further down)
                for (int p = 0; p < alpha; p++)
                {
                    int ih = 2 * i - G.PadH + p;
                    for (int h = 0; h < alpha; h += 2)
                    {
                        Columns(xc, ih, h, out var ev, out var od);
                        if (pair)
                        {
                            Columns(xc, ih + 2, h, out var ev2, out var od2);
                            ev = Avx512F.PermuteVar16x32x2(ev, join, ev2);
                            od = Avx512F.PermuteVar16x32x2(od, join, od2);
                        }
                        d[p * alpha + h] = ev;
                        d[p * alpha + h + 1] = od;
                    }
                }
                // e = B^T d (down each column), then each row of e times B; rows of v go to their product matrices.
                for (int q = 0; q < alpha; q++) WinogradTransforms.InputRun23(d + q, alpha, e + q, alpha);
                float* o = v + (long)c * channel;
                for (int a = 0; a < alpha; a++)
                {
                    WinogradTransforms.InputRun23(e + a * alpha, 1, d, 1);
                    for (int b = 0; b < alpha; b++) Vector512.Store(d[b], o + (a * alpha + b) * ld);
                }
            }

            // Columns cs + 2 lane + h and + h + 1 of input row ih (zeros outside the image).
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            void Columns(float* xc, int ih, int h, out Vector512<float> ev, out Vector512<float> od)
            {
                if ((uint)ih >= (uint)height)
                {
                    ev = od = zero;
                    return;
                }
                float* r = xc + (long)ih * width + cs;
                Vector512<float> a, b;
                if (inside) { a = Vector512.Load(r + h); b = Vector512.Load(r + h + 16); }
                else { a = Avx512F.MaskLoad(r + h, masks[h], zero); b = Avx512F.MaskLoad(r + h + 16, masks[h + 1], zero); }
                ev = Avx512F.PermuteVar16x32x2(a, evens, b);
                od = Avx512F.PermuteVar16x32x2(a, odds, b);
            }
        }

        /// <summary>A^T m A plus scale, bias and activation for `count` tiles (i, j..) of image n, and as many of row
        /// i + 1 when `pair`, output channels [k0, k1).</summary>
        [SkipLocalsInit, MethodImpl(MethodImplOptions.AggressiveOptimization)]
        readonly void OutputTiles(int n, int i, int j, int count, bool pair, float* m, int k0, int k1)
        {
            var lane = Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
            var low = Vector512.Create(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
            var high = Vector512.Create(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
            int alpha = Alpha(G), kg = G.GroupK, wo = G.Wo, col = 2 * j;
            int width = Math.Min(2 * count, wo - col); // output columns this run writes
            var m0 = Vector512.LessThan(lane, Vector512.Create(width)).AsSingle();
            var m1 = Vector512.LessThan(lane + Vector512.Create(16), Vector512.Create(width)).AsSingle();
            // A pair's second row starts at lane count: even and odd lanes count, count + 1, ... interleaved.
            var second = low + Vector512.Create(count);
            var act = Act;
            float actParam = ActParam;
            bool fused = act is Activation.None or Activation.Relu or Activation.LeakyRelu;
            var slope = Vector512.Create(actParam);
            int ld = Stride(Chunk), channel = ChannelStride(G, Chunk);
            var s = stackalloc Vector512<float>[2 * MaxAlpha];
            var column = stackalloc Vector512<float>[MaxAlpha];
            var block = stackalloc Vector512<float>[4]; // a tile's outputs (0,0), (0,1), (1,0), (1,1), for pooling
            var tiles = Vector512.LessThan(lane, Vector512.Create(pair ? 2 * count : count)).AsSingle();
            for (int k = k0; k < k1; k++)
            {
                float* p = m + (long)k * channel;
                // s = A^T m: for each column, its alpha products in, two rows out
                for (int q = 0; q < alpha; q++)
                {
                    for (int a = 0; a < alpha; a++) column[a] = Vector512.Load(p + (a * alpha + q) * ld);
                    WinogradTransforms.OutputRun23(column, 1, out s[q], out s[alpha + q]);
                }
                var b = Vector512.Create(Bias == null ? 0f : Bias[Group * kg + k]);
                var sc = Vector512.Create(Scale == null ? 1f : Scale[Group * kg + k]); // times 1 plus b rounds as plus b
                float* yr = Y + (((long)n * G.K + Group * kg + k) * G.Ho + 2 * i) * wo + col;
                for (int o = 0; o < 2; o++, yr += wo)
                {
                    // (.) A: the row's two outputs, scaled, shifted and rectified
                    WinogradTransforms.OutputRun23(s + o * alpha, 1, out var even, out var odd);
                    even = Rectify(Vector512.FusedMultiplyAdd(even, sc, b));
                    odd = Rectify(Vector512.FusedMultiplyAdd(odd, sc, b));
                    if (Pooled != null)
                    {
                        (block[2 * o], block[2 * o + 1]) = (even, odd);
                        continue;
                    }
                    if (2 * i + o < G.Ho) Write(yr, even, odd, low, high);
                    if (pair && 2 * i + 2 + o < G.Ho) Write(yr + 2 * wo, even, odd, second, high);
                }
                if (Pooled != null)
                {
                    // Row-major window order with a strict '>' keeps the first maximum, as the pooling kernel does. A pair's
                    // second row of tiles is the next row of the pooled plane: one store covers both.
                    var best = block[0];
                    for (int q = 1; q < 4; q++) best = Vector512.ConditionalSelect(Vector512.GreaterThan(block[q], best), block[q], best);
                    Avx512F.MaskStore(Pooled + (((long)n * G.K + Group * kg + k) * TilesH(G) + i) * TilesW(G) + j, tiles, best);
                }
            }

            // The rectifiers as the GEMM epilogue applies them (max with 0; a sign select for the leaky one).
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            Vector512<float> Rectify(Vector512<float> x) =>
                act == Activation.Relu ? Vector512.Max(x, Vector512<float>.Zero)
                : act == Activation.LeakyRelu ? Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512<float>.Zero), x, x * slope)
                : x;

            // Even and odd outputs interleaved from the lanes `first` picks (the second row's start at lane count).
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            void Write(float* yr, Vector512<float> even, Vector512<float> odd, Vector512<int> first, Vector512<int> rest)
            {
                // Masks only where the run ends inside a 16-float half (masked stores are slow on some cores).
                if (width >= 16) Vector512.Store(Avx512F.PermuteVar16x32x2(even, first, odd), yr);
                else Avx512F.MaskStore(yr, m0, Avx512F.PermuteVar16x32x2(even, first, odd));
                if (width >= 32) Vector512.Store(Avx512F.PermuteVar16x32x2(even, rest, odd), yr + 16);
                else if (width > 16) Avx512F.MaskStore(yr + 16, m1, Avx512F.PermuteVar16x32x2(even, rest, odd));
                if (!fused) Activations.Apply(act, actParam, yr, yr, width);
            }
        }
    }
}
