using System;
using System.Collections.Generic;
using Dsl.Runtime.Cpu;
using Xunit;
using static Dsl.Runtime.Tests.Kernels.Reference;

namespace Dsl.Runtime.Tests.Kernels;

public unsafe class PoolTests
{
    // Random geometries in floor and ceil mode (ceil windows may hang over the padded border).
    private static IEnumerable<PoolGeometry> Geometries(int seed, int count)
    {
        var r = new Random(seed);
        for (int i = 0; i < count; i++)
        {
            int kh = r.Next(1, 5), kw = r.Next(1, 5), sh = r.Next(1, 4), sw = r.Next(1, 4);
            int ph = r.Next(0, kh / 2 + 1), pw = r.Next(0, kw / 2 + 1);
            int H = kh + r.Next(0, 9), W = kw + r.Next(0, 9);
            bool ceil = r.Next(2) == 0;
            int Out(int size, int k, int s, int p)
            {
                int o = ceil ? (size + 2 * p - k + s - 1) / s + 1 : (size + 2 * p - k) / s + 1;
                if (ceil && (o - 1) * s >= size + p) o--; // PyTorch: the last window must start inside input or left pad
                return o;
            }
            yield return new PoolGeometry(r.Next(1, 3), r.Next(1, 4), H, W, kh, kw, sh, sw, ph, pw, Out(H, kh, sh, ph), Out(W, kw, sw, pw));
        }
        yield return new PoolGeometry(2, 3, 13, 13, 3, 3, 2, 2, 0, 0, 6, 6);   // AlexNet overlapping pool
        yield return new PoolGeometry(1, 2, 31, 41, 3, 3, 2, 2, 1, 1, 16, 21); // wide rows: 8-lane max path plus borders
        yield return new PoolGeometry(1, 1, 9, 30, 2, 4, 1, 3, 0, 2, 8, 11);
        yield return new PoolGeometry(2, 3, 28, 28, 2, 2, 2, 2, 0, 0, 14, 14);  // `maxpool 2`: the 16-lane path
        yield return new PoolGeometry(1, 2, 7, 37, 2, 2, 2, 2, 0, 0, 3, 18);    // odd sizes, a row longer than 16 outputs
        yield return new PoolGeometry(1, 2, 55, 55, 3, 3, 2, 2, 0, 0, 27, 27);  // AlexNet's pool1 size: two 16-lane steps a row
        yield return new PoolGeometry(2, 2, 40, 45, 4, 5, 2, 2, 0, 0, 19, 21);  // stride 2, even and odd window widths
    }

    /// <summary>Values from {0, 1, 2}: most windows hold ties, and the first cell in row-major order must win, on the
    /// vector paths (2x2 and stride-2 windows) as on the others.</summary>
    [Fact]
    public void MaxKeepsTheFirstMaximumAndItsIndex()
    {
        var r = new Random(5);
        foreach (var g in new[]
                 {
                     new PoolGeometry(2, 3, 28, 28, 2, 2, 2, 2, 0, 0, 14, 14), new PoolGeometry(1, 2, 7, 37, 2, 2, 2, 2, 0, 0, 3, 18),
                     new PoolGeometry(1, 2, 55, 55, 3, 3, 2, 2, 0, 0, 27, 27), new PoolGeometry(2, 2, 13, 13, 3, 3, 2, 2, 0, 0, 6, 6),
                     new PoolGeometry(1, 2, 40, 45, 4, 5, 2, 2, 0, 0, 19, 21),
                 })
        {
            var x = new float[g.N * g.C * g.H * g.W];
            for (int i = 0; i < x.Length; i++) x[i] = r.Next(3);
            var arg = new int[g.N * g.C * g.Ho * g.Wo];
            var y = Forward(g, x, true, arg);
            for (int p = 0, o = 0; p < g.N * g.C; p++)
            for (int oh = 0; oh < g.Ho; oh++)
            for (int ow = 0; ow < g.Wo; ow++, o++)
            {
                int best = oh * g.StrideH * g.W + ow * g.StrideW;
                for (int ih = 0; ih < g.KernelH; ih++)
                for (int iw = 0; iw < g.KernelW; iw++)
                {
                    int cell = (oh * g.StrideH + ih) * g.W + ow * g.StrideW + iw;
                    if (x[p * g.H * g.W + cell] > x[p * g.H * g.W + best]) best = cell;
                }
                Assert.Equal(best, arg[o]);
                Assert.Equal(x[p * g.H * g.W + best], y[o]);
            }
        }
    }

    /// <summary>Without an argmax buffer (inference), the same maxima.</summary>
    [Fact]
    public void MaxWithoutIndicesGivesTheSameMaxima()
    {
        var r = new Random(7);
        foreach (var g in Geometries(11, 20))
        {
            var x = Rand(r, g.N * g.C * g.H * g.W);
            var y = new float[g.N * g.C * g.Ho * g.Wo];
            fixed (float* px = x, py = y) Pool.MaxForward(g, px, py, null);
            Assert.Equal(Forward(g, x, true), y);
        }
    }

    private static float[] Forward(PoolGeometry g, float[] x, bool max, int[]? arg = null)
    {
        var y = new float[g.N * g.C * g.Ho * g.Wo];
        arg ??= new int[y.Length];
        fixed (float* px = x, py = y)
        fixed (int* pa = arg)
        {
            if (max) Pool.MaxForward(g, px, py, pa);
            else Pool.AvgForward(g, px, py);
        }
        return y;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ForwardMatchesReference(bool max)
    {
        var r = new Random(1);
        foreach (var g in Geometries(10, 40))
        {
            var x = Rand(r, g.N * g.C * g.H * g.W);
            double err = RelErr(Forward(g, x, max), RefPool(g, D(x), max));
            Assert.True(err < 1e-6, $"{g}: {err}");
        }
    }

    [Fact]
    public void MaxIgnoresPaddingEvenWhenAllInputsAreNegative()
    {
        var g = new PoolGeometry(1, 1, 2, 2, 3, 3, 1, 1, 1, 1, 2, 2);
        var y = Forward(g, [-4f, -3f, -2f, -1f], true);
        Assert.Equal(new float[] { -1f, -1f, -1f, -1f }, y);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void BackwardMatchesFiniteDifferences(bool max)
    {
        var r = new Random(2);
        foreach (var g in Geometries(20, 12))
        {
            var x = Rand(r, g.N * g.C * g.H * g.W);
            var arg = new int[g.N * g.C * g.Ho * g.Wo];
            Forward(g, x, max, arg);
            var rr = D(Rand(r, arg.Length));
            var dy = Array.ConvertAll(rr, v => (float)v);
            var dx = new float[x.Length];
            fixed (float* pdy = dy, pdx = dx)
            fixed (int* pa = arg)
            {
                if (max) Pool.MaxBackward(g, pdy, pa, pdx);
                else Pool.AvgBackward(g, pdy, pdx);
            }
            // pooling is piecewise linear, so a tiny step is exact and avoids straddling near-ties
            var num = NumGrad(D(x), v => Dot(RefPool(g, v, max), rr), 1e-7);
            Assert.True(RelErr(dx, num) < 1e-3, $"{g}: {RelErr(dx, num)}");
        }
    }
}
