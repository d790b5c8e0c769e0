using System;
using System.Linq;
using Dsl.Runtime.Cpu;
using Xunit;
using static Dsl.Runtime.Tests.Kernels.Reference;

namespace Dsl.Runtime.Tests.Kernels;

public unsafe class DropoutTests
{
    private static (float[] Y, float[] Mask) Forward(float[] x, float p, ulong seed, long step)
    {
        var y = new float[x.Length];
        var mask = new float[x.Length];
        fixed (float* px = x, py = y, pm = mask) Dropout.Forward(x.Length, p, seed, step, px, py, pm);
        return (y, mask);
    }

    [Fact]
    public void AShardDrawsTheMasksOfItsPlaceInTheWholeBatch()
    {
        // 4 samples of 50 units; a data-parallel process holding samples 2 and 3 passes first = 100.
        var x = Rand(new Random(2), 200);
        var whole = Forward(x, 0.5f, 9, 4).Mask;
        var shard = new float[100];
        var y = new float[100];
        fixed (float* px = x.AsSpan(100), py = y, pm = shard) Dropout.Forward(100, 0.5f, 9, 4, px, py, pm, first: 100);
        Assert.Equal(whole[100..], shard);
        Assert.NotEqual(whole[..100], shard);
    }

    [Fact]
    public void MaskHasTheRightRateValuesAndDeterminism()
    {
        var x = Rand(new Random(1), 300_000);
        var (y, mask) = Forward(x, 0.3f, 7, 11);
        float keep = 1f / 0.7f;
        Assert.All(mask, m => Assert.True(m == 0f || m == keep));
        double dropped = mask.Count(m => m == 0f) / (double)mask.Length;
        Assert.InRange(dropped, 0.29, 0.31);
        for (int i = 0; i < x.Length; i++) Assert.Equal(x[i] * mask[i], y[i]);
        Assert.Equal(mask, Forward(x, 0.3f, 7, 11).Mask);
        int saved = CpuThreads.Count;
        try
        {
            CpuThreads.Count = 1;
            Assert.Equal(mask, Forward(x, 0.3f, 7, 11).Mask);
        }
        finally
        {
            CpuThreads.Count = saved;
        }
        Assert.NotEqual(mask, Forward(x, 0.3f, 7, 12).Mask);
        Assert.NotEqual(mask, Forward(x, 0.3f, 8, 11).Mask);
    }

    [Fact]
    public void BackwardMatchesFiniteDifferencesForAFixedMask()
    {
        var r = new Random(2);
        var x = Rand(r, 257);
        var (_, mask) = Forward(x, 0.5f, 3, 1);
        var rr = D(Rand(r, x.Length));
        var dy = Array.ConvertAll(rr, v => (float)v);
        var dx = new float[x.Length];
        fixed (float* pm = mask, pdy = dy, pdx = dx) Dropout.Backward(x.Length, pm, pdy, pdx);
        var md = D(mask);
        var num = NumGrad(D(x), v => Dot(v.Select((e, i) => e * md[i]).ToArray(), rr));
        Assert.True(RelErr(dx, num) < 1e-3);
    }
}
