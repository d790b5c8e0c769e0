using System;
using Dsl.Runtime.Cpu;
using Xunit;
using static Dsl.Runtime.Tests.Kernels.Reference;

namespace Dsl.Runtime.Tests.Kernels;

public unsafe class LrnTests
{
    private static readonly (int N, int C, int H, int W, int Size)[] Shapes =
        [(2, 7, 3, 5, 5), (1, 12, 23, 25, 5), (1, 3, 2, 2, 7), (2, 5, 4, 1, 2), (1, 1, 3, 3, 3)];

    [Theory]
    [InlineData(0.75f)] // the square-root fast path
    [InlineData(0.6f)]  // the general exp/log path
    public void ForwardAndBackwardMatchReference(float beta)
    {
        var r = new Random(1);
        const float alpha = 1e-2f, k = 2f;
        foreach (var (N, C, H, W, size) in Shapes)
        {
            var x = Rand(r, N * C * H * W, 3);
            var y = new float[x.Length];
            var rr = D(Rand(r, x.Length));
            var dy = Array.ConvertAll(rr, v => (float)v);
            var dx = new float[x.Length];
            fixed (float* px = x, py = y, pdy = dy, pdx = dx)
            {
                Lrn.Forward(N, C, H, W, size, alpha, beta, k, px, py);
                Lrn.Backward(N, C, H, W, size, alpha, beta, k, px, pdy, pdx);
            }
            Assert.True(RelErr(y, RefLrn(N, C, H, W, size, alpha, beta, k, D(x))) < 1e-4);
            if (x.Length > 2000) continue; // FD over large inputs is slow; forward still checked above
            var num = NumGrad(D(x), v => Dot(RefLrn(N, C, H, W, size, alpha, beta, k, v), rr));
            Assert.True(RelErr(dx, num) < 1e-3, $"{(N, C, H, W, size)}: {RelErr(dx, num)}");
            Assert.True(RelErr(Array.ConvertAll(RefLrnGradient(N, C, H * W, size, alpha, beta, k, D(x), rr), v => (float)v), num) < 1e-5, "the analytic reference");
        }
    }

    /// <summary>The gradient on images past one chunk of positions and a 16-lane vector (the finite differences above
    /// only cover small ones), against the analytic gradient in float64, which those differences check.</summary>
    [Theory]
    [InlineData(0.75f, 5)]
    [InlineData(0.6f, 3)]
    public void BackwardMatchesTheAnalyticGradientOnLargeImages(float beta, int size)
    {
        var r = new Random(3);
        const float alpha = 1e-2f, k = 2f;
        int N = 2, C = 20, H = 30, W = 31;
        var x = Rand(r, N * C * H * W, 3);
        var dy = Rand(r, x.Length);
        var y = new float[x.Length];
        var dx = new float[x.Length];
        fixed (float* px = x, py = y, pdy = dy, pdx = dx)
        {
            Lrn.Forward(N, C, H, W, size, alpha, beta, k, px, py);
            Lrn.Backward(N, C, H, W, size, alpha, beta, k, px, pdy, pdx);
        }
        Assert.True(RelErr(y, RefLrn(N, C, H, W, size, alpha, beta, k, D(x))) < 1e-5);
        double err = RelErr(dx, RefLrnGradient(N, C, H * W, size, alpha, beta, k, D(x), D(dy)));
        Assert.True(err < 1e-5, $"rel err {err}");
    }

    /// <summary>dx_j = dy_j s_j^-beta - 2 alpha beta x_j * sum over c in window(j) of dy_c x_c s_c^(-beta-1), with
    /// s_c = k + alpha * sum of x^2 over window(c) (windows symmetric, so j in window(c) iff c in window(j)).</summary>
    static double[] RefLrnGradient(int N, int C, int hw, int size, double alpha, double beta, double k, double[] x, double[] dy)
    {
        var s = new double[x.Length];
        var dx = new double[x.Length];
        int half = size / 2;
        for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
        for (int i = 0; i < hw; i++)
        {
            double sum = 0;
            for (int j = Math.Max(0, c - half); j <= Math.Min(C - 1, c + half); j++) sum += x[(n * C + j) * hw + i] * x[(n * C + j) * hw + i];
            s[(n * C + c) * hw + i] = k + alpha * sum;
        }
        for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
        for (int i = 0; i < hw; i++)
        {
            int o = (n * C + c) * hw + i;
            double cross = 0;
            for (int j = Math.Max(0, c - half); j <= Math.Min(C - 1, c + half); j++)
            {
                int q = (n * C + j) * hw + i;
                cross += dy[q] * x[q] * Math.Pow(s[q], -beta - 1);
            }
            dx[o] = dy[o] * Math.Pow(s[o], -beta) - 2 * alpha * beta * x[o] * cross;
        }
        return dx;
    }
}
