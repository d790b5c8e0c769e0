using Dsl.Runtime.Cpu;
using Xunit;

namespace Dsl.Runtime.Tests.Kernels;

public unsafe class OptimizerTests
{
    // Each test checks element 0 against values computed by hand and element 0 of a long run (the vector path).
    private static float[] Tile(float v, int n = 19) => System.Linq.Enumerable.ToArray(System.Linq.Enumerable.Repeat(v, n));

    [Fact]
    public void SgdMomentumNesterovAndWeightDecay()
    {
        float[] w = Tile(1f), g = Tile(0.5f), v = Tile(0f);
        fixed (float* pw = w, pg = g, pv = v)
        {
            // g' = 0.5 + 0.1*1 = 0.6; v = 0.6; step = 0.6 + 0.9*0.6 = 1.14; w = 1 - 0.1*1.14 = 0.886
            Optimizers.Sgd(w.Length, pw, pg, pv, 0.1f, 0.9f, 0.1f, true);
            Assert.All(w, x => Assert.Equal(0.886f, x, 6));
            Assert.All(v, x => Assert.Equal(0.6f, x, 6));
            // g' = 0.5 + 0.0886 = 0.5886; v = 0.54 + 0.5886 = 1.1286; step = 0.5886 + 1.01574 = 1.60434; w = 0.886 - 0.160434
            Optimizers.Sgd(w.Length, pw, pg, pv, 0.1f, 0.9f, 0.1f, true);
            Assert.All(w, x => Assert.Equal(0.725566f, x, 5));
        }
        float[] w2 = Tile(1f);
        fixed (float* pw = w2, pg = g)
        {
            Optimizers.Sgd(w2.Length, pw, pg, null, 0.1f, 0f, 0f, false);
            Optimizers.Sgd(w2.Length, pw, pg, null, 0.1f, 0f, 0f, false);
            Assert.All(w2, x => Assert.Equal(0.9f, x, 6));
        }
    }

    [Fact]
    public void AdamMatchesHandComputedSteps()
    {
        float[] w = Tile(1f), g = Tile(0.5f), m = Tile(0f), v = Tile(0f);
        fixed (float* pw = w, pg = g, pm = m, pv = v)
        {
            // t=1: m = 0.05, v = 0.00025, mhat = 0.5, vhat = 0.25 -> w = 1 - 0.01 * 0.5 / (0.5 + 1e-8)
            Optimizers.Adam(w.Length, pw, pg, pm, pv, 0.01f, 0.9f, 0.999f, 1e-8f, 0f, 1);
            Assert.All(w, x => Assert.Equal(0.99f, x, 6));
            // t=2: m = 0.095, v = 0.00049975, mhat = 0.5, vhat = 0.25 -> another 0.01
            Optimizers.Adam(w.Length, pw, pg, pm, pv, 0.01f, 0.9f, 0.999f, 1e-8f, 0f, 2);
            Assert.All(w, x => Assert.Equal(0.98f, x, 5));
            // t=3 with weight decay 0.1: g' = 0.5 + 0.098 = 0.598
            // m = 0.0855 + 0.0598 = 0.1453; v = 0.00049925 + 0.000357604 = 0.000856854
            // mhat = 0.1453/0.271 = 0.536162; vhat = 0.000856854/0.002997001 = 0.285904; sqrt = 0.534700
            // w = 0.98 - 0.01 * 0.536162 / 0.534700 = 0.969973
            Optimizers.Adam(w.Length, pw, pg, pm, pv, 0.01f, 0.9f, 0.999f, 1e-8f, 0.1f, 3);
            Assert.All(w, x => Assert.Equal(0.969973f, x, 5));
        }
    }

    [Fact]
    public void RmsPropWithAndWithoutMomentum()
    {
        float[] w = Tile(1f), g = Tile(0.5f), sq = Tile(0f), buf = Tile(0f);
        fixed (float* pw = w, pg = g, ps = sq, pb = buf)
        {
            // sq = 0.01*0.25 = 0.0025; step = 0.5/0.05 = 10 (eps 0); buf = 10; w = 1 - 0.01*10 = 0.9
            Optimizers.RmsProp(w.Length, pw, pg, ps, 0.01f, 0.99f, 0f, 0f, 0.5f, pb);
            Assert.All(w, x => Assert.Equal(0.9f, x, 5));
            // sq = 0.002475 + 0.0025 = 0.004975; step = 0.5/0.0705337 = 7.08881; buf = 5 + 7.08881; w = 0.9 - 0.1208881
            Optimizers.RmsProp(w.Length, pw, pg, ps, 0.01f, 0.99f, 0f, 0f, 0.5f, pb);
            Assert.All(w, x => Assert.Equal(0.7791119f, x, 4));
        }
        float[] w2 = Tile(1f), sq2 = Tile(0f);
        fixed (float* pw = w2, pg = g, ps = sq2)
        {
            // no momentum, wd 0.2: g' = 0.7; sq = 0.0049; step = 0.7/0.07 = 10; w = 1 - 0.01*10 = 0.9
            Optimizers.RmsProp(w2.Length, pw, pg, ps, 0.01f, 0.99f, 0f, 0.2f, 0f, null);
            Assert.All(w2, x => Assert.Equal(0.9f, x, 5));
        }
    }
}
