using Dsl.Runtime.Cpu;
using ILGPU;

namespace Dsl.Runtime.Ilgpu.Kernels;

public struct ConvArgs
{
    public ConvGeometry G;
    public ArrayView<float> X, W, Bias, Y, Dy, Dx, Dw;
    public int HasBias;
    public float Slope;
}

/// <summary>Direct convolutions, one thread per output element, each group's channels only; the sums run in (c, r, s)
/// or (n, oh, ow) order, another order than the CPU device's GEMMs, within the harness's float32 tolerance.</summary>
public static class Conv
{
    /// <summary>y[n, k, oh, ow] = act(sum over (c, r, s) of w[k, c, r, s] * x[n, group's c, oh*sh - ph + r, ow*sw - pw + s] + bias[k]).</summary>
    public struct Forward<TAct> : IElementKernel<ConvArgs> where TAct : struct, IActivation
    {
        public readonly void Run(int i, ConvArgs a)
        {
            var g = a.G;
            int ow = i % g.Wo, oh = i / g.Wo % g.Ho, k = i / (g.Wo * g.Ho) % g.K, n = i / (g.Wo * g.Ho * g.K);
            int cg = g.C / g.Groups, c0 = k / (g.K / g.Groups) * cg;
            float sum = 0f;
            for (int c = 0; c < cg; c++)
                for (int r = 0; r < g.R; r++)
                {
                    int ih = oh * g.StrideH - g.PadH + r;
                    if (ih < 0 || ih >= g.H) continue;
                    for (int s = 0; s < g.S; s++)
                    {
                        int iw = ow * g.StrideW - g.PadW + s;
                        if (iw >= 0 && iw < g.W)
                            sum += a.W[((k * cg + c) * g.R + r) * g.S + s] * a.X[((n * g.C + c0 + c) * g.H + ih) * g.W + iw];
                    }
                }
            if (a.HasBias != 0) sum += a.Bias[k];
            a.Y[i] = default(TAct).Forward(sum, a.Slope);
        }
    }

    /// <summary>dx[n, c, ih, iw] = sum over the group's k and (r, s) of w[k, c, r, s] * dy[n, k, oh, ow] where ih = oh*sh - ph + r.</summary>
    public struct BackwardData : IElementKernel<ConvArgs>
    {
        public readonly void Run(int i, ConvArgs a)
        {
            var g = a.G;
            int iw = i % g.W, ih = i / g.W % g.H, ci = i / (g.W * g.H) % g.C, n = i / (g.W * g.H * g.C);
            int cg = g.C / g.Groups, kg = g.K / g.Groups, b = ci / cg, c = ci % cg;
            float sum = 0f;
            for (int kk = 0; kk < kg; kk++)
            {
                int k = b * kg + kk;
                for (int r = 0; r < g.R; r++)
                {
                    int th = ih + g.PadH - r;
                    if (th < 0 || th % g.StrideH != 0 || th / g.StrideH >= g.Ho) continue;
                    for (int s = 0; s < g.S; s++)
                    {
                        int tw = iw + g.PadW - s;
                        if (tw >= 0 && tw % g.StrideW == 0 && tw / g.StrideW < g.Wo)
                            sum += a.W[((k * cg + c) * g.R + r) * g.S + s] * a.Dy[((n * g.K + k) * g.Ho + th / g.StrideH) * g.Wo + tw / g.StrideW];
                    }
                }
            }
            a.Dx[i] = sum;
        }
    }

    /// <summary>dw[k, c, r, s] = sum over (n, oh, ow) of dy[n, k, oh, ow] * x[n, group's c, oh*sh - ph + r, ow*sw - pw + s].</summary>
    public struct BackwardFilter : IElementKernel<ConvArgs>
    {
        public readonly void Run(int i, ConvArgs a)
        {
            var g = a.G;
            int cg = g.C / g.Groups;
            int s = i % g.S, r = i / g.S % g.R, c = i / (g.S * g.R) % cg, k = i / (g.S * g.R * cg);
            int ci = k / (g.K / g.Groups) * cg + c;
            float sum = 0f;
            for (int n = 0; n < g.N; n++)
                for (int oh = 0; oh < g.Ho; oh++)
                {
                    int ih = oh * g.StrideH - g.PadH + r;
                    if (ih < 0 || ih >= g.H) continue;
                    for (int ow = 0; ow < g.Wo; ow++)
                    {
                        int iw = ow * g.StrideW - g.PadW + s;
                        if (iw >= 0 && iw < g.W)
                            sum += a.Dy[((n * g.K + k) * g.Ho + oh) * g.Wo + ow] * a.X[((n * g.C + ci) * g.H + ih) * g.W + iw];
                    }
                }
            a.Dw[i] = sum;
        }
    }
}
