using System;
using System.Runtime.CompilerServices;
using System.Numerics.Tensors;

namespace Dsl.Runtime.Cpu;

/// <summary>Grouped 2-D convolution via im2col/col2im + GEMM, one image-group at a time (GEMM is the parallel part).</summary>
public static unsafe class Conv
{
    /// <summary>Floats of workspace the convolution kernels need for geometry g (one image-group's column matrix).</summary>
    public static long WorkspaceFloats(ConvGeometry g) => g.IsPointwise ? 0 : (long)g.ColRows * g.Ho * g.Wo;

    /// <summary>y = act(conv(x, w) + bias); bias may be null.</summary>
    public static void Forward(ConvGeometry g, float* x, float* w, float* bias, float* y, Activation act, float actParam, float* workspace)
    {
        int cg = g.GroupC, kg = g.GroupK, crs = g.ColRows, hw = g.Ho * g.Wo;
        for (int n = 0; n < g.N; n++)
        for (int grp = 0; grp < g.Groups; grp++)
        {
            float* xg = x + ((long)n * g.C + grp * cg) * g.H * g.W, wg = w + (long)grp * kg * crs;
            float* yg = y + ((long)n * g.K + grp * kg) * hw;
            var epilogue = new GemmEpilogue(bias == null ? null : bias + grp * kg, null, act, actParam);
            float* col = xg; // a pointwise convolution's input already is its column matrix
            if (!g.IsPointwise)
            {
                Im2Col.Lower(g, xg, workspace);
                col = workspace;
            }
            Gemm.Run(false, false, kg, hw, crs, 1f, wg, crs, col, hw, 0f, yg, hw, epilogue);
        }
    }

    /// <summary>dx = conv-transpose(dy, w) (overwrites dx).</summary>
    public static void BackwardData(ConvGeometry g, float* dy, float* w, float* dx, float* workspace)
    {
        int cg = g.GroupC, kg = g.GroupK, crs = g.ColRows, hw = g.Ho * g.Wo;
        for (int n = 0; n < g.N; n++)
        for (int grp = 0; grp < g.Groups; grp++)
        {
            float* dxg = dx + ((long)n * g.C + grp * cg) * g.H * g.W;
            float* dcol = g.IsPointwise ? dxg : workspace;
            Gemm.Sgemm(true, false, crs, hw, kg, 1f, w + (long)grp * kg * crs, crs,
                dy + ((long)n * g.K + grp * kg) * hw, hw, 0f, dcol, hw);
            if (!g.IsPointwise) Im2Col.Raise(g, dcol, dxg);
        }
    }

    /// <summary>dw = sum over images of dy * im2col(x)^T, dbias = sum of dy per output channel (both overwritten; dbias may be null).</summary>
    public static void BackwardFilter(ConvGeometry g, float* x, float* dy, float* dw, float* dbias, float* workspace)
    {
        int cg = g.GroupC, kg = g.GroupK, crs = g.ColRows, hw = g.Ho * g.Wo;
        if (g.N == 0) new Span<float>(dw, g.K * crs).Clear();
        // Images in order, accumulating into dw: a fixed summation order independent of threading.
        for (int n = 0; n < g.N; n++)
        for (int grp = 0; grp < g.Groups; grp++)
        {
            float* xg = x + ((long)n * g.C + grp * cg) * g.H * g.W;
            float* col = xg;
            if (!g.IsPointwise)
            {
                Im2Col.Lower(g, xg, workspace);
                col = workspace;
            }
            Gemm.Sgemm(false, true, kg, crs, hw, 1f, dy + ((long)n * g.K + grp * kg) * hw, hw, col, hw,
                n == 0 ? 0f : 1f, dw + (long)grp * kg * crs, crs);
        }
        if (dbias != null)
        {
            var job = new BiasJob { G = g, Dy = dy, Db = dbias };
            CpuThreads.For(g.K, 8, ref job);
        }
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
