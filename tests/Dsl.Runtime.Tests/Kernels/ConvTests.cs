using System;
using System.Collections.Generic;
using System.Linq;
using Dsl.Runtime.Cpu;
using Xunit;
using static Dsl.Runtime.Tests.Kernels.Reference;

namespace Dsl.Runtime.Tests.Kernels;

public unsafe class ConvTests
{
    private static ConvGeometry RandomGeometry(Random r, bool small = false)
    {
        int lim = small ? 3 : 5;
        int groups = r.Next(1, small ? 3 : 4), cg = r.Next(1, lim), kg = r.Next(1, lim + 1);
        int R = r.Next(1, lim + 1), S = r.Next(1, lim + 1), sh = r.Next(1, 4), sw = r.Next(1, 4);
        int ph = r.Next(0, R), pw = r.Next(0, S);
        int H = R + r.Next(0, small ? 5 : 10), W = S + r.Next(0, small ? 5 : 10);
        return new ConvGeometry(r.Next(1, small ? 3 : 4), groups * cg, H, W, groups * kg, R, S, sh, sw, ph, pw, groups,
            (H + 2 * ph - R) / sh + 1, (W + 2 * pw - S) / sw + 1);
    }

    private static IEnumerable<ConvGeometry> Geometries()
    {
        var r = new Random(42);
        for (int i = 0; i < 60; i++) yield return RandomGeometry(r);
        yield return new ConvGeometry(2, 6, 5, 7, 4, 1, 1, 1, 1, 0, 0, 2, 5, 7);        // pointwise, grouped: no im2col
        yield return new ConvGeometry(2, 3, 35, 35, 16, 11, 11, 4, 4, 2, 2, 1, 8, 8);   // AlexNet conv1-like
        yield return new ConvGeometry(1, 8, 13, 13, 12, 3, 3, 1, 1, 1, 1, 2, 13, 13);   // grouped 3x3, same padding
        yield return new ConvGeometry(1, 64, 9, 9, 100, 3, 3, 1, 1, 1, 1, 1, 9, 9);     // several GEMM tiles
        yield return new ConvGeometry(2, 6, 100, 97, 8, 11, 11, 4, 4, 2, 3, 2, 24, 24); // many pixels, few channels, strided lowering
        yield return new ConvGeometry(1, 3, 227, 227, 16, 11, 11, 4, 4, 2, 2, 1, 56, 56); // AlexNet's conv1 size: lowered a block of rows at a time
        yield return new ConvGeometry(3, 1, 28, 28, 32, 5, 5, 1, 1, 2, 2, 1, 28, 28);   // lenet's conv1: columns read in place
        yield return new ConvGeometry(1, 3, 32, 32, 20, 3, 3, 1, 1, 1, 1, 1, 32, 32);   // a colour first layer, 20 filters: in place, edge panels
    }

    /// <summary>The forward pass; with <paramref name="prepared"/>, from weights <see cref="Conv.Prepare"/> wrote, w itself
    /// overwritten with NaN first so that a read of it would show.</summary>
    private static float[] Forward(ConvGeometry g, float[] x, float[] w, float[]? b, Activation act, float p, bool prepared = false)
    {
        var y = new float[g.N * g.K * g.Ho * g.Wo];
        var ws = new float[Math.Max(1, Conv.WorkspaceFloats(g))];
        var ready = new float[prepared ? Conv.PreparedFloats(g) : 0];
        var weights = (float[])w.Clone();
        fixed (float* px = x, pw = weights, pb = b, py = y, pws = ws, pp = ready)
        {
            if (prepared)
            {
                Conv.Prepare(g, pw, pp, pws, ws.Length);
                Array.Fill(weights, float.NaN);
            }
            Conv.Forward(g, px, pw, pb, py, act, p, pws, ws.Length, null, prepared ? pp : null);
        }
        return y;
    }

    [Fact]
    public void ForwardMatchesDirectConvolution()
    {
        var r = new Random(1);
        var acts = Enum.GetValues<Activation>();
        foreach (var g in Geometries())
        {
            var x = Rand(r, g.N * g.C * g.H * g.W);
            var w = Rand(r, g.K * g.ColRows);
            var b = r.Next(2) == 0 ? null : Rand(r, g.K);
            var act = acts[r.Next(acts.Length)];
            var reference = RefConv(g, D(x), D(w), b == null ? null : D(b), act, 0.1);
            foreach (bool prepared in new[] { false, true })
            {
                double err = RelErr(Forward(g, x, w, b, act, 0.1f, prepared), reference);
                // sums of up to 64*9 products: 1e-4 still holds in float32 with FMA accumulation
                Assert.True(err < 1e-4, $"{g} {act}{(prepared ? ", prepared weights" : "")}: rel err {err}");
            }
        }
    }

    [Fact]
    public void GradientsMatchFiniteDifferences()
    {
        var r = new Random(2);
        var geoms = new List<ConvGeometry>
        {
            new(2, 4, 7, 6, 6, 3, 2, 2, 1, 1, 0, 2, 4, 5),
            new(1, 3, 5, 5, 2, 1, 1, 1, 1, 0, 0, 1, 5, 5),
            new(1, 16, 6, 6, 16, 3, 3, 1, 1, 1, 1, 1, 6, 6), // the Winograd paths of the gradients
        };
        for (int i = 0; i < 12; i++) geoms.Add(RandomGeometry(r, small: true));
        foreach (var g in geoms)
        {
            var x = Rand(r, g.N * g.C * g.H * g.W);
            var w = Rand(r, g.K * g.ColRows);
            var b = Rand(r, g.K);
            var rr = D(Rand(r, g.N * g.K * g.Ho * g.Wo));
            var dy = Array.ConvertAll(rr, v => (float)v);
            var dx = new float[x.Length];
            var dw = new float[w.Length];
            var db = new float[b.Length];
            var ws = new float[Math.Max(1, Conv.WorkspaceFloats(g))];
            fixed (float* px = x, pw = w, pdy = dy, pdx = dx, pdw = dw, pdb = db, pws = ws)
            {
                Conv.BackwardData(g, pdy, pw, pdx, pws, ws.Length);
                Conv.BackwardFilter(g, px, pdy, pdw, pdb, pws, ws.Length);
            }
            double[] xd = D(x), wd = D(w), bd = D(b);
            var gx = NumGrad(xd, v => Dot(RefConv(g, v, wd, bd), rr));
            var gw = NumGrad(wd, v => Dot(RefConv(g, xd, v, bd), rr));
            var gb = NumGrad(bd, v => Dot(RefConv(g, xd, wd, v), rr));
            Assert.True(RelErr(dx, gx) < 1e-3, $"{g} dx: {RelErr(dx, gx)}");
            Assert.True(RelErr(dw, gw) < 1e-3, $"{g} dw: {RelErr(dw, gw)}");
            Assert.True(RelErr(db, gb) < 1e-3, $"{g} db: {RelErr(db, gb)}");
        }
    }

    /// <summary>3x3 and 5x5 stride-1 geometries large enough for the Winograd path: several paddings, odd output sizes
    /// (a half tile at the edge), tile rows longer than one 16-lane run, groups, one image and several.</summary>
    private static IEnumerable<ConvGeometry> WinogradGeometries()
    {
        ConvGeometry G(int n, int c, int h, int w, int k, int pad, int groups = 1, int r = 3) =>
            new(n, c, h, w, k, r, r, 1, 1, pad, pad, groups, h + 2 * pad - r + 1, w + 2 * pad - r + 1);
        yield return G(2, 16, 32, 32, 16, 1);
        yield return G(3, 16, 21, 23, 17, 0);    // 19 x 21 outputs: half tiles on both edges
        yield return G(1, 16, 17, 45, 20, 2);    // 19 x 47: 24 tiles per row, runs of 16 and 8
        yield return G(4, 32, 16, 16, 32, 1, 2); // grouped
        yield return G(1, 33, 24, 24, 40, 1);    // channel counts past a GEMM panel
        yield return G(1, 16, 12, 80, 16, 1);    // a run whose 34 input columns all lie inside the row (unmasked loads)
        // F(4x4, 5x5): rows of tiles rounded up to whole runs, tiles overhanging the outputs' edges.
        yield return G(8, 32, 14, 14, 64, 2, r: 5);         // lenet's conv2: 4 tiles a row, the last 2 columns and rows past the edge
        yield return G(2, 16, 19, 23, 20, 1, r: 5);         // 17 x 21 outputs: 6 tiles a row rounded up to two runs of 4
        yield return G(1, 32, 16, 90, 32, 4, 2, r: 5);      // padding 4, grouped, runs with plain loads
        yield return G(8, 16, 11, 11, 16, 1);               // 6-tile rows two to a vector; the last pair's second row half outside
        yield return G(8, 16, 11, 9, 16, 2, r: 5);          // 5x5, 11 x 9 outputs: 3 tiles a row rounded up to a run of 4
        yield return G(4, 16, 8, 8, 16, 2, r: 5);           // 5x5 on rows of 2 tiles: 8 runs a vector
        yield return G(1, 16, 6, 6, 24, 1, r: 5);           // 5x5 with 4 x 4 outputs: one tile and one wholly past the edge
        // One small image: too few tiles for a chunk per thread, so one chunk whose output channels the threads split.
        yield return G(1, 32, 14, 14, 64, 2, r: 5);         // lenet's conv2 at batch 1
        yield return G(1, 128, 8, 8, 128, 1);               // cifar-bn's last convolution at batch 1
        yield return G(2, 24, 9, 7, 40, 1, 2);              // grouped, odd sizes, two images
        yield return G(1, 160, 20, 20, 200, 1);             // many channels: 96-tile chunks past the 2 MiB budget (1 thread)
        // F(4x4, 3x3): outputs in whole 4x4 tiles, 16 or more of them.
        yield return G(4, 16, 32, 32, 24, 1);               // runs of 4 tiles, two tile rows to a vector; chunks of tiles
        yield return G(2, 16, 18, 18, 16, 0);               // no padding: plain loads inside the rows
        yield return G(3, 20, 14, 14, 16, 2, 2);            // padding 2 (16 x 16 outputs), grouped
        yield return G(5, 32, 8, 8, 48, 1);                 // runs of 2 tiles from 4 images a vector; 4 tiles left over
        yield return G(1, 32, 32, 32, 32, 1);               // cifar-bn's conv2 at batch 1: a chunk of 32 tiles per thread
        yield return G(1, 16, 12, 24, 16, 1);               // 6 tiles of 4 a row, not whole runs: F(2x2)
        yield return G(2, 16, 28, 28, 24, 1);               // 7 tiles of 4 a row run as 8, the last one's outputs not written
        yield return G(1, 32, 28, 28, 40, 1);               // the same on one image: one chunk at 2 threads
    }

    [Fact]
    public void WinogradForwardMatchesDirectConvolutionElementwise()
    {
        var r = new Random(11);
        var acts = Enum.GetValues<Activation>();
        int saved = CpuThreads.Count;
        try
        {
            foreach (int threads in new[] { 1, 2 })
            foreach (var g in WinogradGeometries())
            {
                CpuThreads.Count = threads;
                Assert.True(Conv.WorkspaceFloats(g) > (long)g.ColRows * g.Ho * g.Wo, $"{g}: expected the Winograd path to apply");
                var x = Rand(r, g.N * g.C * g.H * g.W);
                var w = Rand(r, g.K * g.ColRows);
                var b = Rand(r, g.K);
                var act = acts[r.Next(acts.Length)];
                var reference = RefConv(g, D(x), D(w), D(b), act, 0.1);
                // The error scales with the sums before the activation (tanh or sigmoid would hide their size).
                double scale = 0;
                foreach (var v in RefConv(g, D(x), D(w), D(b), Activation.None, 0)) scale = Math.Max(scale, Math.Abs(v));
                foreach (bool prepared in new[] { false, true })
                {
                    var y = Forward(g, x, w, b, act, 0.1f, prepared);
                    double worst = 0;
                    for (int i = 0; i < y.Length; i++) worst = Math.Max(worst, Math.Abs(y[i] - reference[i]));
                    // F(4x4, 5x5) carries larger transform constants (points 0, +-1, +-2, +-1/2): 5.5e-6 of the largest sum
                    // seen on lenet's conv2 (3.4e-6 on the F(2x2, 5x5) before it).
                    double tolerance = g.R == 5 ? 1e-4 : 1e-5;
                    Assert.True(worst <= tolerance * scale,
                        $"{g} {act}, {threads} threads{(prepared ? ", prepared weights" : "")}: worst error {worst} against a largest sum of {scale}");
                }
            }
        }
        finally
        {
            CpuThreads.Count = saved;
        }
    }

    /// <summary>The one-chunk mode transforms the inputs into each thread's own scratch, kept from one call to the next:
    /// a second call on the same geometry and other inputs must not take the first call's transforms.</summary>
    [Fact]
    public void OneChunkForwardTransformsEachCallsOwnInputs()
    {
        var r = new Random(23);
        int saved = CpuThreads.Count;
        try
        {
            foreach (int threads in new[] { 1, 2 })
            foreach (var (g, tolerance) in new[] { (new ConvGeometry(1, 32, 14, 14, 64, 5, 5, 1, 1, 2, 2, 1, 14, 14), 1e-4), (new ConvGeometry(1, 32, 16, 16, 64, 3, 3, 1, 1, 1, 1, 1, 16, 16), 1e-5) })
            {
                CpuThreads.Count = threads;
                var w = Rand(r, g.K * g.ColRows);
                var b = Rand(r, g.K);
                Forward(g, Rand(r, g.N * g.C * g.H * g.W), w, b, Activation.None, 0f, prepared: true);
                var x = Rand(r, g.N * g.C * g.H * g.W);
                var y = Forward(g, x, w, b, Activation.None, 0f, prepared: true);
                var reference = RefConv(g, D(x), D(w), D(b), Activation.None, 0);
                double worst = 0, scale = 0;
                for (int i = 0; i < y.Length; i++)
                {
                    worst = Math.Max(worst, Math.Abs(y[i] - reference[i]));
                    scale = Math.Max(scale, Math.Abs(reference[i]));
                }
                Assert.True(worst <= tolerance * scale, $"{g}, {threads} threads: worst error {worst} against a largest sum of {scale}");
            }
        }
        finally
        {
            CpuThreads.Count = saved;
        }
    }

    /// <summary>First layers on the direct path (few input taps, stride 1): output rows narrower and wider than its
    /// 32-column strips (and 16-column ones), channel counts that leave a partial block of eight, paddings 0 to 4, an odd
    /// number of taps, batch 1 and 3.</summary>
    private static ConvGeometry[] DirectGeometries()
    {
        ConvGeometry G(int n, int c, int h, int w, int k, int r, int s, int ph, int pw) =>
            new(n, c, h, w, k, r, s, 1, 1, ph, pw, 1, h + 2 * ph - r + 1, w + 2 * pw - s + 1);
        return
        [
            G(3, 1, 28, 28, 32, 5, 5, 2, 2),   // lenet's conv1: 28 of a 32-column strip
            G(1, 3, 32, 32, 32, 3, 3, 1, 1),   // cifar-bn's conv1: whole strips
            G(3, 3, 9, 70, 13, 3, 3, 1, 1),    // three strips, the last of 6 columns; a block of 5 channels
            G(1, 2, 6, 17, 8, 5, 3, 4, 0),     // padding past the image, a 17-column row (one past a vector)
            G(2, 7, 5, 4, 3, 3, 3, 2, 2),      // 63 taps; fewer channels than a block
            G(1, 1, 1, 1, 1, 1, 1, 0, 0),      // one output
            G(1, 16, 8, 8, 9, 2, 2, 1, 0),     // 64 taps
        ];
    }

    /// <summary>One small image on <see cref="SmallImageConv"/>: rows of 16, 8, 4 and 2 pixels (vectors of one, two,
    /// four and eight rows), cifar-bn's 8x8 layers at batch 1, a partial block of channels, 5x5 filters whose taps reach
    /// two rows and columns past the edges, 1x3 ones.</summary>
    private static ConvGeometry[] SmallImageGeometries()
    {
        ConvGeometry G(int c, int h, int w, int k, int r, int s) => new(1, c, h, w, k, r, s, 1, 1, r / 2, s / 2, 1, h, w);
        return
        [
            G(32, 4, 16, 64, 3, 3), G(64, 8, 8, 128, 3, 3), G(128, 8, 8, 128, 3, 3),
            G(24, 8, 8, 20, 3, 3),   // blocks of 8, 8 and 4 channels
            G(16, 4, 8, 16, 3, 3),   // 32 pixels: one block of two vectors
            G(9, 8, 4, 8, 5, 5),     // rows of 4, taps two past every edge
            G(30, 16, 2, 9, 1, 3),   // rows of 2
        ];
    }

    /// <summary>The direct paths' forward passes (<see cref="DirectGeometries"/> on <see cref="DirectConv"/>,
    /// <see cref="SmallImageGeometries"/> on <see cref="SmallImageConv"/>), each against a float64 convolution with the
    /// batch norm scale, bias and every activation, at 1, 2 and 3 threads, from prepared weights or not: within 1e-5 of
    /// the largest sum, and bit for bit the same at every thread count.</summary>
    [Theory]
    [InlineData("few taps")]
    [InlineData("small image")]
    public void DirectForwardMatchesFloat64Elementwise(string path)
    {
        var r = new Random(17);
        var acts = Enum.GetValues<Activation>();
        int saved = CpuThreads.Count;
        bool small = path == "small image";
        try
        {
            foreach (var g in small ? SmallImageGeometries() : DirectGeometries())
            {
                Assert.True(small ? SmallImageConv.Takes(g) : DirectConv.Takes(g), $"{g}: expected the {path} path to apply");
                var x = Rand(r, g.N * g.C * g.H * g.W);
                var w = Rand(r, g.K * g.ColRows);
                var b = Rand(r, g.K);
                var scale = r.Next(2) == 0 ? null : Rand(r, g.K);
                var act = acts[r.Next(acts.Length)];
                // conv(x, w) * scale + b = conv(x, w * scale) + b, in float64
                var scaled = D(w);
                if (scale != null) for (int i = 0; i < scaled.Length; i++) scaled[i] *= scale[i / g.ColRows];
                var reference = RefConv(g, D(x), scaled, D(b), act, 0.1);
                double largest = RefConv(g, D(x), scaled, D(b), Activation.None, 0).Max(Math.Abs);
                float[]? first = null;
                foreach (int threads in new[] { 1, 2, 3 })
                foreach (bool prepared in new[] { false, true })
                {
                    CpuThreads.Count = threads;
                    var y = new float[g.N * g.K * g.Ho * g.Wo];
                    var ws = new float[Conv.ForwardWorkspaceFloats(g, threads)];
                    var ready = new float[Conv.PreparedFloats(g)];
                    var weights = (float[])w.Clone();
                    fixed (float* px = x, pw = weights, pb = b, ps = scale, py = y, pws = ws, pp = ready)
                    {
                        if (prepared)
                        {
                            Conv.Prepare(g, pw, pp, pws, ws.Length);
                            Array.Fill(weights, float.NaN);
                        }
                        Conv.Forward(g, px, pw, pb, py, act, 0.1f, pws, ws.Length, ps, prepared ? pp : null);
                    }
                    double worst = 0;
                    for (int i = 0; i < y.Length; i++) worst = Math.Max(worst, Math.Abs(y[i] - reference[i]));
                    Assert.True(worst <= 1e-5 * largest,
                        $"{g} {act}, scale {scale != null}, {threads} threads{(prepared ? ", prepared weights" : "")}: worst error {worst} against a largest sum of {largest}");
                    if (first == null) first = y;
                    else Assert.Equal(first, y);
                }
            }
        }
        finally
        {
            CpuThreads.Count = saved;
        }
    }

    /// <summary>The input gradient on the Winograd path (dy convolved with the flipped, transposed weights) against the
    /// float64 direct gradient, on every Winograd geometry, at 1 and 2 threads: F(2x2) and F(4x4) tiles, 3x3 and 5x5,
    /// paddings 0 to 4 (so transposed paddings r - 1 - pad from 0 up), groups, chunked and one-chunk; bit for bit the same
    /// at both thread counts.</summary>
    [Fact]
    public void WinogradBackwardDataMatchesDirectGradient()
    {
        var r = new Random(17);
        int saved = CpuThreads.Count;
        try
        {
            foreach (var g in WinogradGeometries().Where(g => g.GroupC >= 16 && g.GroupK >= 16)) // as many in as out: both ways
            {
                var dy = Rand(r, g.N * g.K * g.Ho * g.Wo);
                var w = Rand(r, g.K * g.ColRows);
                var (reference, _) = RefConvGradients(g, new double[g.N * g.C * g.H * g.W], D(w), D(dy));
                MatchesAtOneAndTwoThreads(g, reference, threads =>
                {
                    Assert.True(Winograd.BackwardDataWorkspaceFloats(g, threads) > 0, $"{g}: expected the Winograd path to apply");
                    var dx = new float[g.N * g.C * g.H * g.W];
                    var ws = new float[Conv.WorkspaceFloats(g)];
                    fixed (float* pdy = dy, pw = w, pdx = dx, pws = ws) Conv.BackwardData(g, pdy, pw, pdx, pws, ws.Length);
                    return dx;
                });
            }
        }
        finally
        {
            CpuThreads.Count = saved;
        }
    }

    /// <summary>Runs <paramref name="compute"/> at 1 and 2 threads: each result within 1e-5 of the largest reference value
    /// (1e-4 for 5x5) of the float64 reference, and bit for bit the same at both.</summary>
    static void MatchesAtOneAndTwoThreads(ConvGeometry g, double[] reference, Func<int, float[]> compute)
    {
        float[]? first = null;
        foreach (int threads in new[] { 1, 2 })
        {
            CpuThreads.Count = threads;
            var result = compute(threads);
            double scale = reference.Max(Math.Abs), worst = 0;
            for (int i = 0; i < result.Length; i++) worst = Math.Max(worst, Math.Abs(result[i] - reference[i]));
            Assert.True(worst <= (g.R == 5 ? 1e-4 : 1e-5) * scale, $"{g}, {threads} threads: worst error {worst} against a largest sum of {scale}");
            if (first is null) first = result;
            else Assert.Equal(first, result);
        }
    }

    /// <summary>The filter gradient through the Winograd algorithm (dw = G^T [sum of (A dY A^T) . (B^T d B)] G) against
    /// the float64 direct gradient, on every Winograd geometry with 16 or more channels a group, at 1 and 2 threads, bit
    /// for bit the same at both.</summary>
    [Fact]
    public void WinogradBackwardFilterMatchesDirectGradient() =>
        FilterGradientMatchesFloat64(WinogradGeometries().Where(g => g.GroupC >= 16 && g.GroupK >= 16), new Random(19),
            (g, _) => Winograd.BackwardFilterWorkspaceFloats(g) > 0, "Winograd");

    /// <summary>The direct path's filter gradient on <see cref="DirectGeometries"/> against the float64 one, at 1 and 2
    /// threads, bit for bit the same at both.</summary>
    [Fact]
    public void DirectBackwardFilterMatchesFloat64Gradient() =>
        FilterGradientMatchesFloat64(DirectGeometries(), new Random(23), (g, threads) => DirectConv.FilterWorkspaceFloats(g, threads) > 0, "direct");

    /// <summary>The im2col + GEMM filter gradient against the float64 one, at 1 and 2 threads: one image a chunk, lowered
    /// a block of output rows at a time (AlexNet's conv1 on two images, grouped too; a large one-channel image) and
    /// several images a chunk, the product taken as dw^T (more taps than output channels, strided and pointwise) and as
    /// dw.</summary>
    [Fact]
    public void ColumnsBackwardFilterMatchesFloat64Gradient() =>
        FilterGradientMatchesFloat64(new ConvGeometry[]
            {
                new(2, 3, 227, 227, 16, 11, 11, 4, 4, 0, 0, 1, 55, 55),
                new(2, 6, 227, 227, 8, 11, 11, 4, 4, 2, 2, 2, 56, 56),
                new(3, 2, 20, 20, 40, 3, 3, 2, 2, 1, 1, 1, 10, 10),
                new(2, 80, 8, 8, 8, 1, 1, 1, 1, 0, 0, 1, 8, 8),
                new(1, 1, 451, 451, 128, 11, 11, 4, 4, 0, 0, 1, 111, 111),
            }, new Random(29),
            (g, threads) => DirectConv.FilterWorkspaceFloats(g, threads) == 0 && Winograd.BackwardFilterWorkspaceFloats(g) == 0, "im2col");

    /// <summary>The filter gradient on each geometry, which the named path must take, against the float64 one (see
    /// <see cref="MatchesAtOneAndTwoThreads"/>). The workspace starts as NaN: nothing left in it by earlier work (the
    /// lanes past a chunk's last tile, say) may reach the gradient.</summary>
    static void FilterGradientMatchesFloat64(IEnumerable<ConvGeometry> geometries, Random r, Func<ConvGeometry, int, bool> takes, string path)
    {
        int saved = CpuThreads.Count;
        try
        {
            foreach (var g in geometries)
            {
                var x = Rand(r, g.N * g.C * g.H * g.W);
                var dy = Rand(r, g.N * g.K * g.Ho * g.Wo);
                var (_, reference) = RefConvGradients(g, D(x), new double[g.K * g.ColRows], D(dy));
                MatchesAtOneAndTwoThreads(g, reference, threads =>
                {
                    Assert.True(takes(g, threads), $"{g}: expected the {path} path to apply");
                    var dw = new float[g.K * g.ColRows];
                    var ws = new float[Conv.WorkspaceFloats(g)];
                    Array.Fill(ws, float.NaN);
                    fixed (float* px = x, pdy = dy, pdw = dw, pws = ws) Conv.BackwardFilter(g, px, pdy, pdw, null, pws, ws.Length);
                    return dw;
                });
            }
        }
        finally
        {
            CpuThreads.Count = saved;
        }
    }

    /// <summary>A `maxpool 2` taken from the Winograd tiles or the direct paths' rows (inference: the conv's full output is
    /// never written) against a float64 convolution and 2x2 max pooling, chunked and one-chunk, 3x3 and 5x5, rows two to a
    /// vector or not, F(2x2) and F(4x4) tiles (3x3 ones in rows rounded up to whole runs too); direct with partial blocks
    /// of channels and a partial strip; one small image's vectors of one, two and four rows.</summary>
    [Fact]
    public void WinogradPooledForwardMatchesConvolutionThenMaxPool()
    {
        ConvGeometry G(int n, int c, int h, int w, int k, int pad, int r = 3) =>
            new(n, c, h, w, k, r, r, 1, 1, pad, pad, 1, h + 2 * pad - r + 1, w + 2 * pad - r + 1);
        var r = new Random(13);
        foreach (var g in new[] { G(4, 32, 16, 16, 32, 1), G(1, 64, 8, 8, 64, 1), G(1, 32, 14, 14, 64, 2, 5), G(4, 16, 12, 12, 16, 2, 5), G(3, 16, 40, 36, 24, 1), G(64, 16, 6, 6, 16, 1),
                     G(6, 16, 8, 8, 32, 1), G(3, 16, 32, 32, 16, 1), G(1, 32, 32, 32, 32, 1),
                     // F(4x4, 3x3) rows of 7 tiles run as 8: chunked and one chunk
                     G(3, 16, 28, 28, 16, 1), G(1, 16, 28, 28, 24, 1),
                     // one small image, directly: rows of 16, 8 (the 64->64 above) and 4 pixels; a partial block of channels
                     G(1, 16, 4, 16, 16, 1), G(1, 16, 4, 8, 20, 1), G(1, 16, 8, 4, 12, 1),
                     G(1, 32, 12, 12, 32, 1), // F(2x2), one chunk (12-wide rows are not the small-image path's)
                     // the direct path: lenet's conv1; a block of 8 and one of 5 (a half block of 1); strips of 32, 32 and 6
                     G(3, 1, 28, 28, 32, 2, 5), G(2, 3, 10, 70, 13, 1) })
        foreach (var act in new[] { Activation.Relu, Activation.None })
        {
            var pg = new PoolGeometry(g.N, g.K, g.Ho, g.Wo, 2, 2, 2, 2, 0, 0, g.Ho / 2, g.Wo / 2);
            var x = Rand(r, g.N * g.C * g.H * g.W);
            var w = Rand(r, g.K * g.ColRows);
            var b = Rand(r, g.K);
            var reference = RefPool(pg, RefConv(g, D(x), D(w), D(b), act), max: true);
            var y = new float[g.N * g.K * g.Ho * g.Wo];
            var pooled = new float[reference.Length];
            var ws = new float[Conv.WorkspaceFloats(g)];
            bool done;
            fixed (float* px = x, pw = w, pb = b, py = y, pp = pooled, pws = ws)
                done = Conv.Forward(g, px, pw, pb, py, act, 0f, pws, ws.Length, null, null, pp);
            Assert.True(done, $"{g}: expected the Winograd or the direct path to pool");
            Assert.All(y, v => Assert.Equal(0f, v)); // the full-size output is not written
            double scale = reference.Max(Math.Abs), worst = 0;
            for (int i = 0; i < pooled.Length; i++) worst = Math.Max(worst, Math.Abs(pooled[i] - reference[i]));
            Assert.True(worst <= (g.R == 5 ? 1e-4 : 1e-5) * scale, $"{g} {act}: worst error {worst} against a largest output of {scale}");
        }
    }

    /// <summary>The same bits at 1, 2, 3 and 7 threads as at the default count: an im2col layer (AlexNet conv1-like), a
    /// Winograd one whose chunks of tiles move with the thread count, a Winograd one whose 144 tiles are a chunk per
    /// thread at 1 thread and one chunk split by output channels at more, and an F(4x4) one of 64 tiles: chunks of 48 and 16 at 1
    /// thread, of 32 at 2, one chunk split by output channels at 3 and 7; an F(4x4, 5x5) one of 48 tiles (lenet's conv2 at batch 3): a
    /// chunk at 1 thread, one chunk split by output channels at more; and a direct one whose 3 images go a whole image to a thread
    /// at 1 to 3 threads and a block of eight channels at a time at 7.</summary>
    [Theory]
    [InlineData("im2col")]
    [InlineData("winograd")]
    [InlineData("winograd-one-chunk")]
    [InlineData("winograd-4x4-one-image")]
    [InlineData("winograd-5x5")]
    [InlineData("direct")]
    public void ForwardIsBitIdenticalAcrossThreadCounts(string path)
    {
        var r = new Random(path.Length);
        var g = path switch
        {
            "im2col" => new ConvGeometry(1, 3, 120, 120, 16, 11, 11, 4, 4, 2, 2, 1, 29, 29),
            "winograd" => new ConvGeometry(5, 16, 30, 30, 16, 3, 3, 1, 1, 1, 1, 1, 30, 30),
            "winograd-4x4-one-image" => new ConvGeometry(1, 32, 32, 32, 32, 3, 3, 1, 1, 1, 1, 1, 32, 32),
            "winograd-5x5" => new ConvGeometry(3, 32, 14, 14, 64, 5, 5, 1, 1, 2, 2, 1, 14, 14),
            "direct" => new ConvGeometry(3, 1, 28, 28, 20, 5, 5, 1, 1, 2, 2, 1, 28, 28),
            _ => new ConvGeometry(1, 32, 24, 24, 32, 3, 3, 1, 1, 1, 1, 1, 24, 24),
        };
        var x = Rand(r, g.N * g.C * g.H * g.W);
        var w = Rand(r, g.K * g.ColRows);
        var b = Rand(r, g.K);
        var first = Forward(g, x, w, b, Activation.Relu, 0f);
        int saved = CpuThreads.Count;
        try
        {
            foreach (int threads in new[] { 1, 2, 3, 7 })
            {
                CpuThreads.Count = threads;
                Assert.Equal(first, Forward(g, x, w, b, Activation.Relu, 0f));
            }
        }
        finally
        {
            CpuThreads.Count = saved;
        }
    }

    [Fact]
    public void BackwardFilterIsBitIdenticalRunToRun()
    {
        var r = new Random(3);
        var g = new ConvGeometry(4, 16, 20, 20, 32, 5, 5, 1, 1, 2, 2, 2, 20, 20);
        var x = Rand(r, g.N * g.C * g.H * g.W);
        var dy = Rand(r, g.N * g.K * g.Ho * g.Wo);
        var ws = new float[Conv.WorkspaceFloats(g)];
        float[] Once()
        {
            var dw = new float[g.K * g.ColRows + g.K];
            fixed (float* px = x, pdy = dy, pdw = dw, pws = ws) Conv.BackwardFilter(g, px, pdy, pdw, pdw + g.K * g.ColRows, pws, ws.Length);
            return dw;
        }
        Assert.Equal(Once(), Once());
    }
}
