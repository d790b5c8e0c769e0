using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Dsl.Runtime.Cpu;

/// <summary>The filter gradient of the layers <see cref="DirectConv"/> takes, computed directly: for eight output
/// channels and two taps, sixteen vectors of partial sums over 16 output columns at a time.</summary>
/// <remarks>im2col + GEMM made it one product of 32 x 25 outputs over an inner dimension of every pixel of the batch
/// (lenet's conv1: 3.2 ms at batch 64, a tenth of the training step, at 25 GFLOP/s). Each block of eight channels is one
/// thread's, summed over images, rows and columns in order with the lanes added at the end, so the bits depend on the
/// geometry alone; they are not the GEMM's, so the im2col reference device (`winograd: false`) keeps to the GEMM.</remarks>
internal static unsafe partial class DirectConv
{
    const int Lanes = 16, TapBlock = 2;

    static int PairedTaps(in ConvGeometry g) => (g.ColRows + TapBlock - 1) / TapBlock * TapBlock;

    static int Parts(in ConvGeometry g, int threads) => Math.Max(1, Math.Min(threads, Blocks(g)));

    /// <summary>Floats of one block's partial sums: [tap][channel][lane].</summary>
    static long BlockSums(in ConvGeometry g) => (long)Channels * PairedTaps(g) * Lanes;

    /// <summary>Per part: a padded image and the partial sums of the blocks of channels it takes.</summary>
    static long FilterSliceFloats(in ConvGeometry g, int parts) => PlaneFloats(g) + (Blocks(g) + parts - 1) / parts * BlockSums(g);

    /// <summary>Workspace the filter gradient needs on this path (0 where it does not take g).</summary>
    public static long FilterWorkspaceFloats(in ConvGeometry g, int threads) =>
        Takes(g) ? Parts(g, threads) * FilterSliceFloats(g, Parts(g, threads)) : 0;

    /// <summary>dw = sum over images of dy correlated with x (overwritten) where this path takes g and the workspace
    /// holds <see cref="FilterWorkspaceFloats"/>; returns whether it ran.</summary>
    public static bool TryBackwardFilter(in ConvGeometry g, float* x, float* dy, float* dw, float* workspace, long workspaceFloats)
    {
        if (!Takes(g) || workspaceFloats < FilterWorkspaceFloats(g, CpuThreads.Count)) return false;
        int parts = Parts(g, CpuThreads.Count);
        var job = new FilterJob { G = g, X = x, Dy = dy, Dw = dw, Workspace = workspace, Parts = parts, Blocks = Blocks(g) };
        CpuThreads.For(parts, 1, ref job);
        return true;
    }

    private struct FilterJob : IParallelJob
    {
        public ConvGeometry G;
        public float* X, Dy, Dw, Workspace;
        public int Parts, Blocks;

        // Part p takes the blocks of its static chunk, each image padded once for all of them: which thread runs a part
        // does not change a sum.
        public void Run(int begin, int end)
        {
            int taps = G.ColRows, paired = PairedTaps(G);
            long blockSums = BlockSums(G);
            for (int part = begin; part < end; part++)
            {
                float* plane = Workspace + part * FilterSliceFloats(G, Parts), sums = plane + PlaneFloats(G);
                var (b0, b1) = CpuThreads.Chunk(Blocks, Parts, part);
                new Span<float>(sums, (int)((b1 - b0) * blockSums)).Clear();
                for (int n = 0; n < G.N; n++)
                {
                    Pad(G, X + (long)n * G.C * G.H * G.W, plane);
                    for (int b = b0; b < b1; b++)
                    for (int t = 0; t < paired; t += TapBlock)
                        Taps(n, b * Channels, t, plane, sums + (b - b0) * blockSums + (long)t * Channels * Lanes);
                }
                for (int b = b0; b < b1; b++)
                for (int j = 0; j < Math.Min(Channels, G.K - b * Channels); j++)
                for (int t = 0; t < taps; t++)
                    Dw[(long)(b * Channels + j) * taps + t] = Vector512.Sum(Vector512.Load(sums + (b - b0) * blockSums + ((long)t * Channels + j) * Lanes));
            }
        }

        /// <summary>Adds image n's products for taps t and t + 1 (the second a copy of the last tap where the taps are
        /// odd, its sums never read) to the block's partial sums: [tap][channel][lane].</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        readonly void Taps(int n, int k0, int t, float* plane, float* sums)
        {
            int hp = PaddedH(G), wp = PaddedW(G), hw = G.Ho * G.Wo, rs = G.R * G.S;
            int t1 = Math.Min(t + 1, G.ColRows - 1);
            // each tap's first input, relative to the output position
            float* xa = plane + ((long)(t / rs) * hp + t / G.S % G.R) * wp + t % G.S;
            float* xb = plane + ((long)(t1 / rs) * hp + t1 / G.S % G.R) * wp + t1 % G.S;
            // channels past K read the last one's dy; their sums are never read
            float* d = Dy + ((long)n * G.K + k0) * hw;
            long c1 = Math.Min(1, G.K - 1 - k0) * (long)hw, c2 = Math.Min(2, G.K - 1 - k0) * (long)hw, c3 = Math.Min(3, G.K - 1 - k0) * (long)hw;
            long c4 = Math.Min(4, G.K - 1 - k0) * (long)hw, c5 = Math.Min(5, G.K - 1 - k0) * (long)hw, c6 = Math.Min(6, G.K - 1 - k0) * (long)hw;
            long c7 = Math.Min(7, G.K - 1 - k0) * (long)hw;
            Vector512<float> a0 = Vector512.Load(sums), a1 = Vector512.Load(sums + 16), a2 = Vector512.Load(sums + 32), a3 = Vector512.Load(sums + 48);
            Vector512<float> a4 = Vector512.Load(sums + 64), a5 = Vector512.Load(sums + 80), a6 = Vector512.Load(sums + 96), a7 = Vector512.Load(sums + 112);
            Vector512<float> e0 = Vector512.Load(sums + 128), e1 = Vector512.Load(sums + 144), e2 = Vector512.Load(sums + 160), e3 = Vector512.Load(sums + 176);
            Vector512<float> e4 = Vector512.Load(sums + 192), e5 = Vector512.Load(sums + 208), e6 = Vector512.Load(sums + 224), e7 = Vector512.Load(sums + 240);
            for (int oh = 0; oh < G.Ho; oh++)
            for (int j0 = 0; j0 < G.Wo; j0 += Lanes)
            {
                float* dr = d + (long)oh * G.Wo + j0;
                long xo = (long)oh * wp + j0;
                var u = Vector512.Load(xa + xo);
                var v = Vector512.Load(xb + xo);
                Vector512<float> q0, q1, q2, q3, q4, q5, q6, q7;
                if (G.Wo - j0 >= Lanes)
                {
                    q0 = Vector512.Load(dr); q1 = Vector512.Load(dr + c1); q2 = Vector512.Load(dr + c2); q3 = Vector512.Load(dr + c3);
                    q4 = Vector512.Load(dr + c4); q5 = Vector512.Load(dr + c5); q6 = Vector512.Load(dr + c6); q7 = Vector512.Load(dr + c7);
                }
                else
                {
                    // the row's last columns: dy is zero past them (the padded input is finite there)
                    var m = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(G.Wo - j0)).AsSingle();
                    var z = Vector512<float>.Zero;
                    q0 = Avx512F.MaskLoad(dr, m, z); q1 = Avx512F.MaskLoad(dr + c1, m, z); q2 = Avx512F.MaskLoad(dr + c2, m, z); q3 = Avx512F.MaskLoad(dr + c3, m, z);
                    q4 = Avx512F.MaskLoad(dr + c4, m, z); q5 = Avx512F.MaskLoad(dr + c5, m, z); q6 = Avx512F.MaskLoad(dr + c6, m, z); q7 = Avx512F.MaskLoad(dr + c7, m, z);
                }
                a0 = Avx512F.FusedMultiplyAdd(q0, u, a0); e0 = Avx512F.FusedMultiplyAdd(q0, v, e0);
                a1 = Avx512F.FusedMultiplyAdd(q1, u, a1); e1 = Avx512F.FusedMultiplyAdd(q1, v, e1);
                a2 = Avx512F.FusedMultiplyAdd(q2, u, a2); e2 = Avx512F.FusedMultiplyAdd(q2, v, e2);
                a3 = Avx512F.FusedMultiplyAdd(q3, u, a3); e3 = Avx512F.FusedMultiplyAdd(q3, v, e3);
                a4 = Avx512F.FusedMultiplyAdd(q4, u, a4); e4 = Avx512F.FusedMultiplyAdd(q4, v, e4);
                a5 = Avx512F.FusedMultiplyAdd(q5, u, a5); e5 = Avx512F.FusedMultiplyAdd(q5, v, e5);
                a6 = Avx512F.FusedMultiplyAdd(q6, u, a6); e6 = Avx512F.FusedMultiplyAdd(q6, v, e6);
                a7 = Avx512F.FusedMultiplyAdd(q7, u, a7); e7 = Avx512F.FusedMultiplyAdd(q7, v, e7);
            }
            a0.Store(sums); a1.Store(sums + 16); a2.Store(sums + 32); a3.Store(sums + 48);
            a4.Store(sums + 64); a5.Store(sums + 80); a6.Store(sums + 96); a7.Store(sums + 112);
            e0.Store(sums + 128); e1.Store(sums + 144); e2.Store(sums + 160); e3.Store(sums + 176);
            e4.Store(sums + 192); e5.Store(sums + 208); e6.Store(sums + 224); e7.Store(sums + 240);
        }
    }
}
