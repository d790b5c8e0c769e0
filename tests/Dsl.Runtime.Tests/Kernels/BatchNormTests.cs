using System;
using System.Linq;
using Dsl.Runtime.Cpu;
using Xunit;
using static Dsl.Runtime.Tests.Kernels.Reference;

namespace Dsl.Runtime.Tests.Kernels;

public unsafe class BatchNormTests
{
    private const float Eps = 1e-5f, Momentum = 0.1f;

    [Theory]
    [InlineData(4, 3, 5)]
    [InlineData(6, 5, 1)]   // [N, F] layout
    [InlineData(2, 2, 33)]
    public void TrainingForwardBackwardAndRunningStats(int N, int C, int HW)
    {
        var r = new Random(N * 100 + C * 10 + HW);
        var x = Rand(r, N * C * HW, 2).Select(v => v + 0.5f).ToArray();
        var gamma = Rand(r, C);
        var beta = Rand(r, C);
        var y = new float[x.Length];
        var mean = new float[C];
        var invStd = new float[C];
        var rm = Enumerable.Repeat(0.5f, C).ToArray();
        var rv = Enumerable.Repeat(2f, C).ToArray();
        var rr = D(Rand(r, x.Length));
        var dy = Array.ConvertAll(rr, v => (float)v);
        var dx = new float[x.Length];
        var dg = new float[C];
        var db = new float[C];
        fixed (float* px = x, pg = gamma, pb = beta, py = y, pm = mean, ps = invStd, prm = rm, prv = rv, pdy = dy, pdx = dx, pdg = dg, pdb = db)
        {
            BatchNorm.ForwardTraining(N, C, HW, px, pg, pb, py, pm, ps, prm, prv, Momentum, Eps);
            BatchNorm.Backward(N, C, HW, px, pdy, pg, pm, ps, pdx, pdg, pdb);
        }
        double[] xd = D(x), gd = D(gamma), bd = D(beta);
        Assert.True(RelErr(y, BatchNormTrain(N, C, HW, xd, gd, bd, Eps)) < 1e-4);
        for (int c = 0; c < C; c++)
        {
            var vals = Enumerable.Range(0, N).SelectMany(n => Enumerable.Range(0, HW).Select(i => xd[(n * C + c) * HW + i])).ToArray();
            double mu = vals.Average(), unbiased = vals.Sum(v => (v - mu) * (v - mu)) / (vals.Length - 1);
            Assert.Equal(0.9 * 0.5 + 0.1 * mu, rm[c], 5);
            Assert.Equal(0.9 * 2 + 0.1 * unbiased, rv[c], 4);
        }
        Assert.True(RelErr(dx, NumGrad(xd, v => Dot(BatchNormTrain(N, C, HW, v, gd, bd, Eps), rr))) < 1e-3);
        Assert.True(RelErr(dg, NumGrad(gd, v => Dot(BatchNormTrain(N, C, HW, xd, v, bd, Eps), rr))) < 1e-3);
        Assert.True(RelErr(db, NumGrad(bd, v => Dot(BatchNormTrain(N, C, HW, xd, gd, v, Eps), rr))) < 1e-3);
    }

    [Fact]
    public void InferenceUsesRunningStatistics()
    {
        float[] x = [1f, 2f, 3f, 4f];      // N=2, C=2, HW=1
        float[] gamma = [2f, 1f], beta = [0.5f, -1f], rm = [1f, 2f], rv = [4f, 1f];
        var y = new float[4];
        fixed (float* px = x, pg = gamma, pb = beta, py = y, prm = rm, prv = rv)
            BatchNorm.ForwardInference(2, 2, 1, px, pg, pb, py, prm, prv, 0f);
        Assert.Equal(new[] { 0.5f, -1f, 2.5f, 1f }, y);
    }
}
