using System;
using System.Runtime.CompilerServices;
using System.Numerics.Tensors;

namespace Dsl.Runtime.Cpu;

/// <summary>Grouped 2-D convolution via im2col/col2im + GEMM.</summary>
/// <remarks>A first layer's forward pass (few input taps, stride 1) goes to <see cref="DirectConv"/> on the packed
/// weights; 3x3 and 5x5 stride-1 forward passes and both gradients go to <see cref="Winograd"/> where it applies. A group's weights are packed into GEMM panels once per call, not once per image. With at least as many images
/// as threads, each thread then lowers and multiplies whole images on its own slice of the workspace (no packing of one
/// image's columns by two threads), taking the next image as it finishes one; with fewer, the GEMM of each image is the
/// parallel part.
/// Every image's result is the same serial GEMM either way, so the bits do not depend on the thread count.</remarks>
public static unsafe class Conv
{
    /// <summary>Floats of workspace the convolution kernels of all three passes need for geometry g: the forward pass's
    /// (<see cref="ForwardWorkspaceFloats"/>), the filter gradient's chunk of images' columns and output gradients, or
    /// what the Winograd paths of the two gradients need, where they take g.</summary>
    public static long WorkspaceFloats(ConvGeometry g, int threads) =>
        Math.Max(Math.Max(Math.Max(ForwardWorkspaceFloats(g, threads), FilterChunkFloats(g)), DirectConv.FilterWorkspaceFloats(g, threads)),
            Math.Max(Winograd.BackwardDataWorkspaceFloats(g, threads), Winograd.BackwardFilterWorkspaceFloats(g)));

    /// <summary>Floats of workspace the forward pass (and <see cref="Prepare"/>) needs for geometry g: a group's packed
    /// weights and one image-group's column matrix per thread, or the Winograd path's, where it takes g. An inference
    /// plan sizes its workspace by this alone: it runs no gradient.</summary>
    public static long ForwardWorkspaceFloats(ConvGeometry g, int threads) =>
        Math.Max(Math.Max(WeightFloats(g) + Math.Max(g.IsPointwise ? 0 : ColFloats(g) * Math.Max(1, Math.Min(threads, g.N)), DirectConv.WorkspaceFloats(g, threads)),
            Winograd.WorkspaceFloats(g, threads)), SmallImageConv.PackedFloats(g));

    /// <inheritdoc cref="WorkspaceFloats(ConvGeometry, int)"/>
    public static long WorkspaceFloats(ConvGeometry g) => WorkspaceFloats(g, CpuThreads.Count);

    static long ColFloats(in ConvGeometry g) => (long)g.ColRows * g.Ho * g.Wo;

    /// <summary>Packed panels of one group's weights, as the forward pass (K x CRS) or the data gradient (CRS x K) uses them.</summary>
    /// <remarks>Rounded up to 16 floats, so that the column matrices after them start 64-byte aligned.</remarks>
    static long WeightFloats(in ConvGeometry g) => (Math.Max(Gemm.PackedFloats(g.GroupK, g.ColRows), Gemm.PackedFloats(g.ColRows, g.GroupK)) + 15) / 16 * 16;

    /// <summary>Inner dimensions up to which the forward GEMM reads the column matrix in place instead of packing it: a
    /// first layer's few input channels (lenet's 25, a colour image's 27), where the packing cost about as much as the
    /// multiply.</summary>
    const int InPlaceColumns = 64;

    /// <summary>Threads that take whole images: as many as the workspace has column matrices for, if every one gets an image.</summary>
    static int ImageParts(in ConvGeometry g, long workspaceFloats)
    {
        if (workspaceFloats < WeightFloats(g) + (g.IsPointwise ? 0 : ColFloats(g)))
            throw new ArgumentException($"the convolution needs at least {WeightFloats(g) + (g.IsPointwise ? 0 : ColFloats(g))} floats of workspace, {workspaceFloats} given");
        long slices = g.IsPointwise ? long.MaxValue : (workspaceFloats - WeightFloats(g)) / ColFloats(g);
        int parts = (int)Math.Min(Math.Min(CpuThreads.Count, g.N), slices);
        return parts >= 2 ? parts : 1;
    }

    /// <summary>Floats of the weights <see cref="Prepare"/> writes for the forward pass of g: Winograd's transformed
    /// matrices where that path takes g, else every group's packed GEMM panels (room for either).</summary>
    public static long PreparedFloats(ConvGeometry g) =>
        Math.Max(Math.Max(Winograd.PreparedFloats(g, CpuThreads.Count), g.Groups * Gemm.PackedFloats(g.GroupK, g.ColRows)), SmallImageConv.PackedFloats(g));

    /// <summary>Writes w in the form <see cref="Forward"/> multiplies by (<see cref="PreparedFloats"/> floats), so that
    /// calls with unchanged weights skip the packing or transform: worth it at batch 1, where that is a large part of a
    /// layer's time. Valid while w and the thread count stay as they were.</summary>
    public static void Prepare(ConvGeometry g, float* w, float* prepared, float* workspace, long workspaceFloats)
    {
        if (SmallImageConv.Takes(g))
        {
            SmallImageConv.Prepare(g, w, prepared);
            return;
        }
        if (Winograd.Takes(g, workspaceFloats))
        {
            Winograd.Prepare(g, w, prepared, workspace);
            return;
        }
        for (int grp = 0; grp < g.Groups; grp++)
            Gemm.Pack(false, w + (long)grp * g.GroupK * g.ColRows, g.ColRows, g.GroupK, g.ColRows, prepared + grp * Gemm.PackedFloats(g.GroupK, g.ColRows));
    }

    /// <summary>y = act(conv(x, w) * scale + bias) per output channel; bias and scale may be null. With
    /// <paramref name="prepared"/> (from <see cref="Prepare"/> with the same workspace), w itself is not read. With
    /// <paramref name="pooled"/>, where the Winograd or the direct path runs (even output sizes), y is not written but
    /// its 2x2 maxima are, into pooled; returns whether they were. <paramref name="winograd"/> false keeps to im2col + GEMM
    /// (<see cref="CpuDevice.TrainingWinograd"/>).</summary>
    public static bool Forward(ConvGeometry g, float* x, float* w, float* bias, float* y, Activation act, float actParam,
        float* workspace, long workspaceFloats, float* scale = null, float* prepared = null, float* pooled = null, bool winograd = true)
    {
        if (SmallImageConv.TryForward(g, x, w, prepared, bias, scale, y, act, actParam, workspace, workspaceFloats, pooled))
            return pooled != null && SmallImageConv.Pools(g, act);
        if (winograd && Winograd.TryForward(g, x, w, prepared, bias, scale, y, act, actParam, workspace, workspaceFloats, pooled))
            return pooled != null;
        int parts = ImageParts(g, workspaceFloats);
        for (int grp = 0; grp < g.Groups; grp++)
        {
            var weights = prepared != null
                ? new PackedA(false, null, g.ColRows, prepared + grp * Gemm.PackedFloats(g.GroupK, g.ColRows))
                : Gemm.Pack(false, w + (long)grp * g.GroupK * g.ColRows, g.ColRows, g.GroupK, g.ColRows, workspace);
            if (DirectConv.TryForward(g, x, weights.Panels, bias, scale, y, act, actParam, workspace + WeightFloats(g), workspaceFloats - WeightFloats(g), pooled))
                return pooled != null && DirectConv.Pools(g, act); // one group
            var job = new ImagesJob { G = g, Group = grp, Weights = weights, X = x, Bias = bias, Scale = scale, Y = y, Act = act, ActParam = actParam,
                Columns = workspace + WeightFloats(g) };
            CpuThreads.ForEach(g.N, 1, parts, ref job);
        }
        return false;
    }

    /// <summary>dx = conv-transpose(dy, w) (overwrites dx); as a Winograd convolution where that path takes g, unless
    /// <paramref name="winograd"/> is false.</summary>
    public static void BackwardData(ConvGeometry g, float* dy, float* w, float* dx, float* workspace, long workspaceFloats, bool winograd = true)
    {
        if (winograd && Winograd.TryBackwardData(g, dy, w, dx, workspace, workspaceFloats)) return;
        int parts = ImageParts(g, workspaceFloats);
        for (int grp = 0; grp < g.Groups; grp++)
        {
            var weights = Gemm.Pack(true, w + (long)grp * g.GroupK * g.ColRows, g.ColRows, g.ColRows, g.GroupK, workspace);
            var job = new ImagesJob { G = g, Group = grp, Weights = weights, X = dx, Y = dy, Columns = workspace + WeightFloats(g),
                Backward = true };
            CpuThreads.ForEach(g.N, 1, parts, ref job);
        }
    }

    /// <summary>Images [begin, end) of one group, on this thread's column matrix: forward (x -> y) or backward data (dy in
    /// Y -> dx in X).</summary>
    private struct ImagesJob : IParallelJob
    {
        public ConvGeometry G;
        public int Group;
        public PackedA Weights;
        public float* X, Bias, Scale, Y, Columns;
        public Activation Act;
        public float ActParam;
        public bool Backward;

        public void Run(int begin, int end)
        {
            int kg = G.GroupK, crs = G.ColRows, hw = G.Ho * G.Wo;
            float* col = Columns + CpuThreads.Slot * ColFloats(G);
            for (int n = begin; n < end; n++)
            {
                float* xg = X + ((long)n * G.C + Group * G.GroupC) * G.H * G.W, yg = Y + ((long)n * G.K + Group * kg) * hw;
                float* cols = G.IsPointwise ? xg : col; // a pointwise convolution's input already is its column matrix
                if (Backward)
                {
                    Gemm.Run(Weights, false, crs, hw, kg, 1f, yg, hw, 0f, cols, hw, default);
                    if (!G.IsPointwise) Im2Col.Raise(G, cols, xg);
                    continue;
                }
                var epilogue = new GemmEpilogue(Bias == null ? null : Bias + Group * kg, null, Act, ActParam, Scale == null ? null : Scale + Group * kg);
                // A large column matrix a block of output rows at a time, so that it is packed from L2 as it was written
                // (AlexNet's conv1 at batch 64 on 2 threads: 55.2-55.9 to 52.1-52.5 ms); else the whole image at once.
                int rows = G.IsPointwise ? G.Ho : BlockRows(G);
                for (int oh = 0; oh < G.Ho; oh += rows)
                {
                    int oh1 = Math.Min(G.Ho, oh + rows), pixels = (oh1 - oh) * G.Wo;
                    if (!G.IsPointwise) Im2Col.Lower(G, xg, cols, pixels, oh, oh1);
                    // In place only where every row is whole 16-float runs (nothing read past the matrix).
                    Gemm.Run(Weights, false, kg, pixels, crs, 1f, cols, pixels, 0f, yg + oh * G.Wo, hw, epilogue,
                        rows == G.Ho && crs <= InPlaceColumns && hw % 16 == 0 && Gemm.ReadsBInPlace(crs, cols, hw));
                }
            }
        }
    }

    /// <summary>Output rows whose columns the forward pass lowers at a time: all of them, unless an image's column matrix
    /// is past 1 MiB (AlexNet's conv1: 4.4 MB), then as many as keep a block near 1 MiB.</summary>
    static int BlockRows(in ConvGeometry g) =>
        (long)g.ColRows * g.Ho * g.Wo <= BlockFloats ? g.Ho : (int)Math.Clamp(BlockFloats / ((long)g.ColRows * g.Wo), 1, g.Ho);

    const long BlockFloats = 1 << 18;

    /// <summary>Images whose columns and output gradients the filter gradient multiplies at once: one GEMM whose inner
    /// dimension runs over all their pixels, instead of one small GEMM per image.</summary>
    static int FilterChunk(in ConvGeometry g) =>
        (int)Math.Clamp((1L << 21) / Math.Max(1L, (long)g.Ho * g.Wo * (g.ColRows + g.GroupK)), 1, Math.Max(1, g.N));

    /// <summary>A chunk's columns and output gradients, and dw^T where <see cref="SwapsFilterProduct"/>.</summary>
    static long FilterChunkFloats(in ConvGeometry g) =>
        (long)FilterChunk(g) * g.Ho * g.Wo * (g.ColRows + g.GroupK) + (SwapsFilterProduct(g) ? (long)g.ColRows * g.GroupK : 0);

    /// <summary>dw = sum over images of dy * im2col(x)^T, dbias = sum of dy per output channel (both overwritten; dbias
    /// may be null); dw directly (<see cref="DirectConv"/>) or through the Winograd algorithm where either takes g, unless
    /// <paramref name="winograd"/> is false.</summary>
    /// <remarks>The sum runs over images in order, a chunk at a time, each element summed by one thread: the bits depend
    /// on the geometry only.</remarks>
    public static void BackwardFilter(ConvGeometry g, float* x, float* dy, float* dw, float* dbias, float* workspace, long workspaceFloats,
        bool winograd = true)
    {
        if (!(winograd && (DirectConv.TryBackwardFilter(g, x, dy, dw, workspace, workspaceFloats) || Winograd.TryBackwardFilter(g, x, dy, dw, workspace, workspaceFloats))))
            FilterByColumns(g, x, dy, dw, workspace, workspaceFloats);
        if (dbias != null)
        {
            var job = new BiasJob { G = g, Dy = dy, Db = dbias };
            CpuThreads.For(g.K, 8, ref job);
        }
    }

    /// <summary>dw = sum over images of dy * im2col(x)^T, by im2col + GEMM.</summary>
    /// <remarks>Where the filters have more taps than the group has output channels, the GEMM computes dw^T = im2col(x) *
    /// dy^T instead (into the workspace, then transposed into dw): the operand its packing transposes is then dy, not the
    /// larger column matrix, and the narrow dimension is the channels (AlexNet's conv1: 96 against 363 taps, two whole
    /// 48-column panels instead of seven and a 27-column edge).</remarks>
    static void FilterByColumns(ConvGeometry g, float* x, float* dy, float* dw, float* workspace, long workspaceFloats)
    {
        int cg = g.GroupC, kg = g.GroupK, crs = g.ColRows, hw = g.Ho * g.Wo, chunk = FilterChunk(g);
        if (workspaceFloats < FilterChunkFloats(g))
            throw new ArgumentException($"the filter gradient needs {FilterChunkFloats(g)} floats of workspace, {workspaceFloats} given");
        if (g.N == 0) new Span<float>(dw, g.K * crs).Clear();
        bool swap = SwapsFilterProduct(g);
        float* dwT = workspace + (long)chunk * hw * (crs + kg);
        for (int grp = 0; grp < g.Groups; grp++)
        {
            float* dwg = dw + (long)grp * kg * crs, into = swap ? dwT : dwg;
            for (int n0 = 0; n0 < g.N; n0 += chunk)
            {
                int images = Math.Min(chunk, g.N - n0), ld = images * hw;
                float* col = workspace, dyc = workspace + (long)crs * ld;
                if (images == 1 && !g.IsPointwise)
                {
                    // One image, a block of output rows at a time where it is large (as the forward pass lowers it), its
                    // output gradients read where they are: the serial copy had cost AlexNet's conv1 filter gradient
                    // (batch 64, 2 threads) 74 ms against 64.
                    float* xg = x + ((long)n0 * g.C + grp * cg) * g.H * g.W, dyg = dy + ((long)n0 * g.K + grp * kg) * hw;
                    for (int oh = 0, rows = BlockRows(g); oh < g.Ho; oh += rows)
                    {
                        int oh1 = Math.Min(g.Ho, oh + rows), pixels = (oh1 - oh) * g.Wo;
                        Im2Col.Lower(g, xg, col, pixels, oh, oh1);
                        FilterProduct(swap, kg, crs, pixels, col, pixels, dyg + oh * g.Wo, hw, n0 == 0 && oh == 0 ? 0f : 1f, into);
                    }
                    continue;
                }
                for (int i = 0; i < images; i++)
                {
                    float* xg = x + ((long)(n0 + i) * g.C + grp * cg) * g.H * g.W;
                    if (g.IsPointwise) Copy2D(xg, hw, col + i * hw, ld, crs, hw);
                    else Im2Col.Lower(g, xg, col + i * hw, ld);
                    if (images > 1) Copy2D(dy + ((long)(n0 + i) * g.K + grp * kg) * hw, hw, dyc + i * hw, ld, kg, hw);
                }
                float* dyChunk = images == 1 ? dy + ((long)n0 * g.K + grp * kg) * hw : dyc;
                FilterProduct(swap, kg, crs, ld, col, ld, dyChunk, ld, n0 == 0 ? 0f : 1f, into);
            }
            if (swap && g.N > 0)
                for (int k = 0; k < kg; k++)
                for (int j = 0; j < crs; j++)
                    dwg[(long)k * crs + j] = dwT[(long)j * kg + k];
        }
    }

    /// <summary>into = beta * into + the product over `pixels` of columns (crs rows, ldCol apart) and output gradients
    /// (kg rows, ldDy apart): dw (kg x crs), or dw^T (crs x kg) where <paramref name="swap"/>.</summary>
    static void FilterProduct(bool swap, int kg, int crs, int pixels, float* col, int ldCol, float* dy, int ldDy, float beta, float* into)
    {
        if (swap) Gemm.Sgemm(false, true, crs, kg, pixels, 1f, col, ldCol, dy, ldDy, beta, into, kg);
        else Gemm.Sgemm(false, true, kg, crs, pixels, 1f, dy, ldDy, col, ldCol, beta, into, crs);
    }

    /// <summary>Whether <see cref="FilterByColumns"/> multiplies for dw^T: more taps than output channels a group.</summary>
    static bool SwapsFilterProduct(in ConvGeometry g) => g.GroupK < g.ColRows;

    static void Copy2D(float* src, int lds, float* dst, int ldd, int rows, int cols)
    {
        for (int r = 0; r < rows; r++) new ReadOnlySpan<float>(src + (long)r * lds, cols).CopyTo(new Span<float>(dst + (long)r * ldd, cols));
    }

    private struct BiasJob : IParallelJob
    {
        public ConvGeometry G;
        public float* Dy, Db;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int begin, int end)
        {
            int hw = G.Ho * G.Wo;
            for (int k = begin; k < end; k++)
            {
                double sum = 0;
                for (int n = 0; n < G.N; n++)
                    sum += TensorPrimitives.Sum(new ReadOnlySpan<float>(Dy + ((long)n * G.K + k) * hw, hw));
                Db[k] = (float)sum;
            }
        }
    }
}
