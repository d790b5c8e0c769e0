using System;
using System.Linq;
using Dsl.Runtime.Cpu;

namespace Dsl.Runtime.Tests.Kernels;

/// <summary>Plain double-precision direct-loop references and numeric helpers the kernel tests compare against.</summary>
internal static class Reference
{
    public static float[] Rand(Random r, long n, double scale = 1.0) =>
        Enumerable.Range(0, (int)n).Select(_ => (float)((r.NextDouble() * 2 - 1) * scale)).ToArray();

    public static double[] D(float[] a) => a.Select(v => (double)v).ToArray();

    /// <summary>||a - b|| / max(||a||, ||b||) over the whole tensor (0 when both are 0).</summary>
    public static double RelErr(float[] a, double[] b)
    {
        double diff = 0, na = 0, nb = 0;
        for (int i = 0; i < b.Length; i++)
        {
            diff += (a[i] - b[i]) * (a[i] - b[i]);
            na += (double)a[i] * a[i];
            nb += b[i] * b[i];
        }
        double den = Math.Sqrt(Math.Max(na, nb));
        return den == 0 ? 0 : Math.Sqrt(diff) / den;
    }

    /// <summary>Central finite differences of a scalar function of x (x is restored).</summary>
    public static double[] NumGrad(double[] x, Func<double[], double> f, double h = 1e-4)
    {
        var g = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            double v = x[i];
            x[i] = v + h;
            double up = f(x);
            x[i] = v - h;
            double down = f(x);
            x[i] = v;
            g[i] = (up - down) / (2 * h);
        }
        return g;
    }

    public static double Dot(double[] y, double[] r)
    {
        double s = 0;
        for (int i = 0; i < y.Length; i++) s += y[i] * r[i];
        return s;
    }

    public static double Act(Activation a, double p, double v) => a switch
    {
        Activation.None => v,
        Activation.Relu => Math.Max(v, 0),
        Activation.LeakyRelu => v > 0 ? v : p * v,
        Activation.Tanh => Math.Tanh(v),
        Activation.Sigmoid => 1 / (1 + Math.Exp(-v)),
        _ => throw new ArgumentOutOfRangeException(nameof(a)),
    };

    public static double[] RefConv(ConvGeometry g, double[] x, double[] w, double[]? bias, Activation act = Activation.None, double p = 0)
    {
        var y = new double[g.N * g.K * g.Ho * g.Wo];
        if (bias != null) for (int i = 0; i < y.Length; i++) y[i] = bias[i / (g.Ho * g.Wo) % g.K];
        ConvProducts(g, (yi, xi, wi) => y[yi] += x[xi] * w[wi]);
        for (int i = 0; i < y.Length; i++) y[i] = Act(act, p, y[i]);
        return y;
    }

    /// <summary>The gradients of <see cref="RefConv"/> (no activation) for output gradient dy: dx and dw, each product's
    /// contribution sent back to its operands.</summary>
    public static (double[] Dx, double[] Dw) RefConvGradients(ConvGeometry g, double[] x, double[] w, double[] dy)
    {
        var dx = new double[x.Length];
        var dw = new double[w.Length];
        ConvProducts(g, (yi, xi, wi) =>
        {
            dx[xi] += dy[yi] * w[wi];
            dw[wi] += dy[yi] * x[xi];
        });
        return (dx, dw);
    }

    /// <summary>Every product of a direct convolution that lands inside the input, as the indices of its output, input and
    /// weight: for each output in order, its (c, r, s) in order.</summary>
    static void ConvProducts(ConvGeometry g, Action<int, int, int> product)
    {
        int cg = g.C / g.Groups, kg = g.K / g.Groups;
        for (int n = 0; n < g.N; n++)
        for (int k = 0; k < g.K; k++)
        for (int oh = 0; oh < g.Ho; oh++)
        for (int ow = 0; ow < g.Wo; ow++)
        {
            int yi = ((n * g.K + k) * g.Ho + oh) * g.Wo + ow, grp = k / kg;
            for (int c = 0; c < cg; c++)
            for (int r = 0; r < g.R; r++)
            for (int q = 0; q < g.S; q++)
            {
                int ih = oh * g.StrideH - g.PadH + r, iw = ow * g.StrideW - g.PadW + q;
                if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
                product(yi, ((n * g.C + grp * cg + c) * g.H + ih) * g.W + iw, ((k * cg + c) * g.R + r) * g.S + q);
            }
        }
    }

    public static double[] RefDense(int n, int inF, int outF, double[] x, double[] w, double[]? b, Activation act = Activation.None, double p = 0)
    {
        var y = new double[n * outF];
        for (int i = 0; i < n; i++)
        for (int o = 0; o < outF; o++)
        {
            double s = b?[o] ?? 0;
            for (int j = 0; j < inF; j++) s += x[i * inF + j] * w[o * inF + j];
            y[i * outF + o] = Act(act, p, s);
        }
        return y;
    }

    public static double[] RefPool(PoolGeometry g, double[] x, bool max)
    {
        var y = new double[g.N * g.C * g.Ho * g.Wo];
        for (int pl = 0; pl < g.N * g.C; pl++)
        for (int oh = 0; oh < g.Ho; oh++)
        for (int ow = 0; ow < g.Wo; ow++)
        {
            double best = double.NegativeInfinity, sum = 0;
            int padded = 0;
            for (int a = 0; a < g.KernelH; a++)
            for (int b = 0; b < g.KernelW; b++)
            {
                int ih = oh * g.StrideH - g.PadH + a, iw = ow * g.StrideW - g.PadW + b;
                if (ih < g.H + g.PadH && iw < g.W + g.PadW) padded++;
                if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
                double v = x[(pl * g.H + ih) * g.W + iw];
                best = Math.Max(best, v);
                sum += v;
            }
            y[(pl * g.Ho + oh) * g.Wo + ow] = max ? best : sum / padded;
        }
        return y;
    }

    public static double[] RefLrn(int N, int C, int H, int W, int size, double alpha, double beta, double k, double[] x)
    {
        var y = new double[x.Length];
        int hw = H * W;
        for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
        for (int i = 0; i < hw; i++)
        {
            double s = 0;
            for (int j = Math.Max(0, c - size / 2); j <= Math.Min(C - 1, c + size / 2); j++)
            {
                double v = x[(n * C + j) * hw + i];
                s += v * v;
            }
            int o = (n * C + c) * hw + i;
            y[o] = x[o] / Math.Pow(k + alpha * s, beta);
        }
        return y;
    }

    public static double SoftmaxCe(int n, int classes, double[] z, int[] labels, double[]? weights)
    {
        double loss = 0, wsum = 0;
        for (int i = 0; i < n; i++)
        {
            double max = double.NegativeInfinity;
            for (int j = 0; j < classes; j++) max = Math.Max(max, z[i * classes + j]);
            double s = 0;
            for (int j = 0; j < classes; j++) s += Math.Exp(z[i * classes + j] - max);
            double w = weights?[labels[i]] ?? 1;
            loss += w * -(z[i * classes + labels[i]] - max - Math.Log(s));
            wsum += w;
        }
        return loss / wsum;
    }

    public static double[] BatchNormTrain(int N, int C, int HW, double[] x, double[] gamma, double[] beta, double eps)
    {
        var y = new double[x.Length];
        int m = N * HW;
        for (int c = 0; c < C; c++)
        {
            double mean = 0, v = 0;
            for (int n = 0; n < N; n++) for (int i = 0; i < HW; i++) mean += x[(n * C + c) * HW + i];
            mean /= m;
            for (int n = 0; n < N; n++) for (int i = 0; i < HW; i++) v += Math.Pow(x[(n * C + c) * HW + i] - mean, 2);
            v /= m;
            for (int n = 0; n < N; n++)
            for (int i = 0; i < HW; i++)
            {
                int o = (n * C + c) * HW + i;
                y[o] = gamma[c] * (x[o] - mean) / Math.Sqrt(v + eps) + beta[c];
            }
        }
        return y;
    }
}
