using System;
using Dsl.Runtime.Cpu;
using Xunit;
using static Dsl.Runtime.Tests.Kernels.Reference;

namespace Dsl.Runtime.Tests.Kernels;

public unsafe class LossTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void SoftmaxCrossEntropyMatchesReferenceAndFiniteDifferences(bool weighted)
    {
        var r = new Random(weighted ? 2 : 1);
        foreach (var (n, classes) in new[] { (1, 1), (4, 3), (7, 10), (3, 37) })
        {
            var z = Rand(r, n * classes, 5);
            var labels = new int[n];
            for (int i = 0; i < n; i++) labels[i] = r.Next(classes);
            var w = weighted ? Array.ConvertAll(Rand(r, classes), v => Math.Abs(v) + 0.1f) : null;
            var probs = new float[z.Length];
            var dz = new float[z.Length];
            double loss;
            fixed (float* pz = z, pw = w, pp = probs, pdz = dz)
            fixed (int* pl = labels)
            {
                loss = SoftmaxCrossEntropy.Forward(n, classes, pz, pl, pw, pp);
                SoftmaxCrossEntropy.Backward(n, classes, pp, pl, pw, pdz);
            }
            var wd = w == null ? null : D(w);
            double want = SoftmaxCe(n, classes, D(z), labels, wd);
            Assert.True(Math.Abs(loss - want) <= 1e-5 * Math.Max(1, Math.Abs(want)), $"{loss} vs {want}");
            for (int i = 0; i < n; i++)
            {
                double s = 0;
                for (int j = 0; j < classes; j++) s += probs[i * classes + j];
                Assert.True(Math.Abs(s - 1) < 1e-5);
            }
            var num = NumGrad(D(z), v => SoftmaxCe(n, classes, v, labels, wd));
            Assert.True(RelErr(dz, num) < 1e-3 || classes == 1, $"n={n} c={classes}: {RelErr(dz, num)}");
        }
    }

    [Fact]
    public void LossIsFiniteForExtremeLogits()
    {
        float[] z = [1000f, -1000f, 0f];
        var probs = new float[3];
        int[] labels = [1];
        fixed (float* pz = z, pp = probs)
        fixed (int* pl = labels)
        {
            double loss = SoftmaxCrossEntropy.Forward(1, 3, pz, pl, null, pp);
            Assert.Equal(2000.0, loss, 3);
        }
    }

    [Fact]
    public void TopKCountsTiesOnlyWhenFewerThanKAreGreater()
    {
        float[] s =
        [
            0.1f, 0.5f, 0.4f, // label 2: one greater -> top-2 yes, top-1 no
            0.3f, 0.3f, 0.3f, // label 0: all tied, none greater -> top-1 yes
            0.9f, 0.8f, 0.1f, // label 2: two greater -> top-2 no
        ];
        int[] labels = [2, 0, 2];
        fixed (float* ps = s)
        fixed (int* pl = labels)
        {
            Assert.Equal(1, Metrics.TopK(3, 3, ps, pl, 1));
            Assert.Equal(2, Metrics.TopK(3, 3, ps, pl, 2));
            Assert.Equal(3, Metrics.TopK(3, 3, ps, pl, 3));
        }
    }
}
