using System;
using Dsl.Runtime.Cpu;
using Xunit;
using static Dsl.Runtime.Tests.Kernels.Reference;

namespace Dsl.Runtime.Tests.Kernels;

public unsafe class DenseTests
{
    [Fact]
    public void ForwardMatchesReference()
    {
        var r = new Random(1);
        foreach (var act in Enum.GetValues<Activation>())
        for (int t = 0; t < 6; t++)
        {
            // t = 0, 1: a few samples (the dot-product path), with row counts that are and are not multiples of 4
            int n = t < 2 ? 1 + t * 3 : r.Next(1, 40), inF = t == 5 ? r.Next(321, 700) : r.Next(1, 300), outF = t == 1 ? 4 * r.Next(1, 30) : r.Next(1, 120);
            var x = Rand(r, n * inF);
            var w = Rand(r, outF * inF);
            var b = t == 0 ? null : Rand(r, outF);
            var reference = RefDense(n, inF, outF, D(x), D(w), b == null ? null : D(b), act, 0.2);
            foreach (bool prepared in new[] { false, true })
            {
                // Prepared: w packed first (past 4 samples), then overwritten with NaN so that a read of it would show.
                var y = new float[n * outF];
                var weights = (float[])w.Clone();
                var packed = new float[Math.Max(1, Dense.PreparedFloats(n, inF, outF)) + 16];
                fixed (float* px = x, pw = weights, pb = b, py = y, pp0 = packed)
                {
                    float* pp = (float*)(((nint)pp0 + 63) & ~(nint)63); // the packed panels are read with aligned loads
                    bool keep = prepared && Dense.PreparedFloats(n, inF, outF) > 0;
                    if (keep)
                    {
                        Dense.Prepare(inF, outF, pw, pp);
                        Array.Fill(weights, float.NaN);
                    }
                    Dense.Forward(n, inF, outF, px, pw, pb, py, act, 0.2f, keep ? pp : null);
                }
                double err = RelErr(y, reference);
                Assert.True(err < 1e-4, $"{act} n={n} in={inF} out={outF}{(prepared ? ", prepared" : "")}: {err}");
            }
        }
    }

    [Fact]
    public void GradientsMatchFiniteDifferences()
    {
        var r = new Random(2);
        foreach (var (n, inF, outF) in new[] { (3, 7, 5), (1, 20, 9), (5, 1, 3) })
        {
            var x = Rand(r, n * inF);
            var w = Rand(r, outF * inF);
            var b = Rand(r, outF);
            var rr = D(Rand(r, n * outF));
            var dy = Array.ConvertAll(rr, v => (float)v);
            var dx = new float[x.Length];
            var dw = new float[w.Length];
            var db = new float[outF];
            fixed (float* px = x, pw = w, pdy = dy, pdx = dx, pdw = dw, pdb = db)
            {
                Dense.BackwardData(n, inF, outF, pdy, pw, pdx);
                Dense.BackwardWeights(n, inF, outF, px, pdy, pdw, pdb);
            }
            double[] xd = D(x), wd = D(w), bd = D(b);
            Assert.True(RelErr(dx, NumGrad(xd, v => Dot(RefDense(n, inF, outF, v, wd, bd), rr))) < 1e-3);
            Assert.True(RelErr(dw, NumGrad(wd, v => Dot(RefDense(n, inF, outF, xd, v, bd), rr))) < 1e-3);
            Assert.True(RelErr(db, NumGrad(bd, v => Dot(RefDense(n, inF, outF, xd, wd, v), rr))) < 1e-3);
        }
    }
}
