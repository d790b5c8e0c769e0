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
            var scale = new float[x.Length];
            var rr = D(Rand(r, x.Length));
            var dy = Array.ConvertAll(rr, v => (float)v);
            var dx = new float[x.Length];
            fixed (float* px = x, py = y, ps = scale, pdy = dy, pdx = dx)
            {
                Lrn.Forward(N, C, H, W, size, alpha, beta, k, px, py, ps);
                Lrn.Backward(N, C, H, W, size, alpha, beta, k, px, py, ps, pdy, pdx);
            }
            Assert.True(RelErr(y, RefLrn(N, C, H, W, size, alpha, beta, k, D(x))) < 1e-4);
            if (x.Length > 2000) continue; // FD over large inputs is slow; forward still checked above
            var num = NumGrad(D(x), v => Dot(RefLrn(N, C, H, W, size, alpha, beta, k, v), rr));
            Assert.True(RelErr(dx, num) < 1e-3, $"{(N, C, H, W, size)}: {RelErr(dx, num)}");
        }
    }
}
