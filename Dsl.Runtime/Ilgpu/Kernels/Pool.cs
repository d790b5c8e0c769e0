using Dsl.Runtime.Cpu;
using ILGPU;

namespace Dsl.Runtime.Ilgpu.Kernels;

public struct PoolArgs
{
    public PoolGeometry G;
    public ArrayView<float> X, Y, Dy, Dx;
    public ArrayView<int> Argmax;
}

/// <summary>Max and average pooling with the CPU device's rules (the C renderer's PoolKernels.fs): windows clipped to the
/// input; the max keeps the first largest cell in row-major order (argmax -1 and output 0 for a window with no cell);
/// the average divides by the window's positions inside the zero-padded input. Gradients are gathered: one thread per
/// input cell sums, in output order, what the windows covering it send back, so no two threads write the same cell.</summary>
public static class Pool
{
    public struct MaxForward : IElementKernel<PoolArgs>
    {
        public readonly void Run(int i, PoolArgs a)
        {
            var g = a.G;
            int ow = i % g.Wo, oh = i / g.Wo % g.Ho, plane = i / (g.Ho * g.Wo);
            int hs = oh * g.StrideH - g.PadH, ws = ow * g.StrideW - g.PadW;
            int h0 = Math.Max(hs, 0), h1 = Math.Min(hs + g.KernelH, g.H), w0 = Math.Max(ws, 0), w1 = Math.Min(ws + g.KernelW, g.W);
            if (h0 >= h1 || w0 >= w1)
            {
                a.Y[i] = 0f;
                a.Argmax[i] = -1;
                return;
            }
            int first = plane * g.H * g.W, at = h0 * g.W + w0;
            float best = a.X[first + at];
            for (int ih = h0; ih < h1; ih++)
                for (int iw = w0; iw < w1; iw++)
                {
                    float v = a.X[first + ih * g.W + iw];
                    if (v > best)
                    {
                        best = v;
                        at = ih * g.W + iw;
                    }
                }
            a.Y[i] = best;
            a.Argmax[i] = at;
        }
    }

    public struct MaxBackward : IElementKernel<PoolArgs>
    {
        public readonly void Run(int i, PoolArgs a)
        {
            var g = a.G;
            int iw = i % g.W, ih = i / g.W % g.H, plane = i / (g.H * g.W);
            Covering(g, ih, iw, out int oh0, out int oh1, out int ow0, out int ow1);
            float sum = 0f;
            for (int oh = oh0; oh <= oh1; oh++)
                for (int ow = ow0; ow <= ow1; ow++)
                {
                    int o = (plane * g.Ho + oh) * g.Wo + ow;
                    if (a.Argmax[o] == ih * g.W + iw) sum += a.Dy[o];
                }
            a.Dx[i] = sum;
        }
    }

    public struct AvgForward : IElementKernel<PoolArgs>
    {
        public readonly void Run(int i, PoolArgs a)
        {
            var g = a.G;
            int ow = i % g.Wo, oh = i / g.Wo % g.Ho, plane = i / (g.Ho * g.Wo);
            int hs = oh * g.StrideH - g.PadH, ws = ow * g.StrideW - g.PadW;
            int h0 = Math.Max(hs, 0), h1 = Math.Min(hs + g.KernelH, g.H), w0 = Math.Max(ws, 0), w1 = Math.Min(ws + g.KernelW, g.W);
            int first = plane * g.H * g.W;
            float sum = 0f;
            for (int ih = h0; ih < h1; ih++)
                for (int iw = w0; iw < w1; iw++) sum += a.X[first + ih * g.W + iw];
            a.Y[i] = sum / Positions(g, hs, ws);
        }
    }

    public struct AvgBackward : IElementKernel<PoolArgs>
    {
        public readonly void Run(int i, PoolArgs a)
        {
            var g = a.G;
            int iw = i % g.W, ih = i / g.W % g.H, plane = i / (g.H * g.W);
            Covering(g, ih, iw, out int oh0, out int oh1, out int ow0, out int ow1);
            float sum = 0f;
            for (int oh = oh0; oh <= oh1; oh++)
                for (int ow = ow0; ow <= ow1; ow++)
                    sum += a.Dy[(plane * g.Ho + oh) * g.Wo + ow] / Positions(g, oh * g.StrideH - g.PadH, ow * g.StrideW - g.PadW);
            a.Dx[i] = sum;
        }
    }

    /// <summary>The window's positions inside the zero-padded input (at least 1).</summary>
    static float Positions(PoolGeometry g, int hs, int ws) =>
        Math.Max(1, (Math.Min(hs + g.KernelH, g.H + g.PadH) - hs) * (Math.Min(ws + g.KernelW, g.W + g.PadW) - ws));

    /// <summary>The outputs whose window covers input cell (ih, iw): rows oh0..oh1, columns ow0..ow1.</summary>
    static void Covering(PoolGeometry g, int ih, int iw, out int oh0, out int oh1, out int ow0, out int ow1)
    {
        int lh = ih + g.PadH - g.KernelH + 1, lw = iw + g.PadW - g.KernelW + 1;
        oh0 = lh <= 0 ? 0 : (lh + g.StrideH - 1) / g.StrideH;
        oh1 = Math.Min((ih + g.PadH) / g.StrideH, g.Ho - 1);
        ow0 = lw <= 0 ? 0 : (lw + g.StrideW - 1) / g.StrideW;
        ow1 = Math.Min((iw + g.PadW) / g.StrideW, g.Wo - 1);
    }
}
