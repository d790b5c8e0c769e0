using Xunit;

namespace Dsl.Runtime.Tests.Backends;

/// <summary>`dsl kernels`' listing without a compiler: which sources it writes, and the targets it knows.</summary>
public class KernelListingTests
{
    [Fact]
    public void ListsTheTrainingInferenceAndUpdateSourcesWithEachKernelsBlockSize()
    {
        var lenet = Networks.Model("lenet.model", 10);
        var target = KernelTarget.Parse("opencl", Precision.Default);
        Assert.Equal(".cl", target.Extension);
        Assert.False(target.Target.TensorCores);
        var sources = KernelListing.Render(lenet, target, 8);
        Assert.Equal(["training", "inference", "updates"], sources.Select(s => s.Step));
        foreach (var s in sources)
        {
            Assert.StartsWith("// ", s.Text);
            Assert.All(s.Threads, kv => Assert.Contains($"void {kv.Key}(", s.Text));
            Assert.All(s.Threads.Values, threads => Assert.Equal(256, threads));
        }
        // lenet: 2 conv and 2 dense layers, a weight and a bias each, 8 distinct tensor sizes: one update kernel per size.
        Assert.Equal(8, sources[2].Threads.Keys.Count(k => k.StartsWith("update_")));
    }

    [Fact]
    public void CudaTargetsCarryTheirArchitectureAndPrecision()
    {
        Assert.Equal(90, KernelTarget.Parse("cuda:sm_90", Precision.Default).Architecture);
        Assert.True(KernelTarget.Parse("cuda:sm_80", Precision.Default).Target.TensorCores);
        Assert.False(KernelTarget.Parse("cuda:sm_80", Precision.Fp32).Target.TensorCores);
        var e = Assert.Throws<ArgumentException>(() => KernelTarget.Parse("cuda:sm_75", Precision.Default));
        Assert.Contains(KernelTarget.Names, e.Message);
    }

    [Fact]
    public void ABatchPastThirtyTwoBitIndicesNamesOneThatFits()
    {
        var vgg = Networks.Model("vgg16.model", 1000);
        var target = KernelTarget.Parse("cuda:sm_90", Precision.Default);
        var e = Assert.Throws<ArgumentException>(() => KernelListing.Render(vgg, target, 128));
        var fits = System.Text.RegularExpressions.Regex.Match(e.Message, @"--batch (\d+)");
        Assert.True(fits.Success, e.Message);
        Assert.Equal(3, KernelListing.Render(vgg, target, int.Parse(fits.Groups[1].Value)).Count);
    }
}
