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

    /// <summary>A batch norm that takes on the activation after it gives, in every mode, the bits of the batch norm and
    /// the activation run as the separate kernels (each checked against float64 above and in ActivationTests). The
    /// inputs straddle zero after normalising, so the activation clips in every channel; HW of 37 and 20 leave tails past
    /// the vectors.</summary>
    [Theory]
    [InlineData(Activation.Relu, 0f, 4, 3, 37)]
    [InlineData(Activation.LeakyRelu, 0.1f, 3, 2, 20)]
    [InlineData(Activation.LeakyRelu, 0f, 5, 2, 1)]
    [InlineData(Activation.Relu, 0f, 2, 4, 64)]
    public void ActivationTakenOnGivesTheSeparatePassesBits(Activation act, float slope, int N, int C, int HW)
    {
        var r = new Random(N * 1000 + C * 100 + HW);
        int count = N * C * HW;
        float[] x = Rand(r, count, 3), beta = Rand(r, C, 0.5), dy = Rand(r, count);
        var gamma = Rand(r, C).Select(v => v + MathF.CopySign(0.5f, v)).ToArray();
        float[] rm = Rand(r, C), rv = Rand(r, C).Select(v => v * v + 0.5f).ToArray();
        (float[] y, float[] dx, float[] dg, float[] db, float[] rm, float[] rv) Run(bool fused, bool synced, bool training)
        {
            float[] y = new float[count], z = new float[count], g = (float[])dy.Clone(), dx = new float[count], dgamma = new float[C], dbeta = new float[C];
            float[] mean = new float[C], invStd = new float[C], runMean = (float[])rm.Clone(), runVar = (float[])rv.Clone();
            var stats = new double[2 * C];
            var (a, s) = fused ? (act, slope) : (Activation.None, 0f);
            fixed (float* px = x, pg = gamma, pb = beta, py = y, pz = z, pgr = g, pdx = dx, pdg = dgamma, pdb = dbeta, pm = mean, ps = invStd, prm = runMean, prv = runVar)
            fixed (double* pst = stats)
            {
                float* written = fused ? pz : py;
                if (!training) BatchNorm.ForwardInference(N, C, HW, px, pg, pb, written, prm, prv, Eps, a, s);
                else if (synced) BatchNorm.ForwardTrainingSynced(N, C, HW, px, pg, pb, written, pm, ps, prm, prv, Momentum, Eps, 1, pst, _ => { }, a, s);
                else BatchNorm.ForwardTraining(N, C, HW, px, pg, pb, written, pm, ps, prm, prv, Momentum, Eps, a, s);
                if (!fused) Activations.Forward(act, slope, py, pz, count);
                if (training)
                {
                    if (!fused) Activations.Backward(act, slope, pz, pgr, pgr, count);
                    if (synced) BatchNorm.BackwardSynced(N, C, HW, px, pgr, pg, pm, ps, pdx, pdg, pdb, 1, pst, _ => { }, fused ? pb : null, a, s);
                    else BatchNorm.Backward(N, C, HW, px, pgr, pg, pm, ps, pdx, pdg, pdb, fused ? pb : null, a, s);
                }
            }
            return (z, dx, dgamma, dbeta, runMean, runVar);
        }
        foreach (var (synced, training) in new[] { (false, true), (true, true), (false, false) })
        {
            var separate = Run(false, synced, training);
            var together = Run(true, synced, training);
            for (int c = 0; c < C; c++)
            {
                var plane = Enumerable.Range(0, N).SelectMany(n => separate.y.Skip((n * C + c) * HW).Take(HW)).ToArray();
                Assert.True(plane.Any(v => v > 0) && plane.Any(v => v <= 0), $"channel {c} is not clipped in part");
            }
            Assert.Equal(separate.y, together.y);
            Assert.Equal(separate.dx, together.dx);
            Assert.Equal(separate.dg, together.dg);
            Assert.Equal(separate.db, together.db);
            Assert.Equal(separate.rm, together.rm);
            Assert.Equal(separate.rv, together.rv);
        }
    }

    [Fact]
    public void OnlyActivationsWithASignDerivativeAreTakenOn()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => BatchNorm.ForwardInference(1, 1, 1, null, null, null, null, null, null, 0f, Activation.Tanh));
        Assert.Contains("relu or leaky relu", ex.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => BatchNorm.ForwardInference(1, 1, 1, null, null, null, null, null, null, 0f, Activation.LeakyRelu, -0.5f));
        Assert.Throws<ArgumentNullException>(() => BatchNorm.Backward(1, 1, 1, null, null, null, null, null, null, null, null, null, Activation.Relu));
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
