using System;
using Dsl.Runtime.Cpu;
using Xunit;
using static Dsl.Runtime.Tests.Kernels.Reference;

namespace Dsl.Runtime.Tests.Kernels;

public unsafe class ActivationTests
{
    [Theory]
    [InlineData(Activation.None)]
    [InlineData(Activation.Relu)]
    [InlineData(Activation.LeakyRelu)]
    [InlineData(Activation.Tanh)]
    [InlineData(Activation.Sigmoid)]
    public void ForwardAndBackwardMatchReference(Activation act)
    {
        var r = new Random((int)act);
        const float p = 0.07f;
        foreach (int n in new[] { 1, 13, 1000, 200_003 })
        {
            var x = Rand(r, n, 4);
            var y = new float[n];
            var rr = D(Rand(r, n));
            var g = Array.ConvertAll(rr, v => (float)v); // backward in place: dx aliases dy
            fixed (float* px = x, py = y, pg = g)
            {
                Activations.Forward(act, p, px, py, n);
                Activations.Backward(act, p, py, pg, pg, n);
            }
            var xd = D(x);
            Assert.True(RelErr(y, Array.ConvertAll(xd, v => Act(act, p, v))) < 1e-4);
            // elementwise op: the numeric gradient of sum(act(x)*r) is r_i * act'(x_i)
            var num = new double[n];
            for (int i = 0; i < n; i++)
                num[i] = rr[i] * (Act(act, p, xd[i] + 1e-5) - Act(act, p, xd[i] - 1e-5)) / 2e-5;
            Assert.True(RelErr(g, num) < 1e-3, $"{act} n={n}: {RelErr(g, num)}");
        }
    }
}
