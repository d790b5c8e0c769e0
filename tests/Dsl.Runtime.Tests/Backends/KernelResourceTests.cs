using System.Diagnostics;
using Dsl.Runtime.Checks;
using Dsl.Runtime.Cuda;
using Xunit;
using Xunit.Abstractions;

namespace Dsl.Runtime.Tests.Backends;

/// <summary>What ptxas makes of every generated CUDA kernel (NVRTC with --ptxas-options=-v, no GPU needed), for AlexNet, VGG16,
/// LeNet and the every-layer network with the standard and the pipelined GEMM tiles (AlexNet with the large ones too), in FP32
/// and TF32, for sm_80 and sm_90: the training, inference and update sources compile, no kernel spills or keeps a stack frame,
/// and each fits at least 2 blocks of its size per SM, counting the pipelined GEMMs' dynamic shared memory (2 stages on sm_80,
/// 3 on sm_90). The figures are in docs/kernels.md. Without NVRTC it says so and passes, unless DSL_REQUIRE_NVRTC=1 (as in CI).</summary>
public class KernelResourceTests(ITestOutputHelper output)
{
    /// <summary>Batch 128 as the GPU benchmark runs; VGG16 at 64, the largest power of two whose arena 32-bit indices reach.
    /// Every network with the standard and the pipelined GEMM tiles; AlexNet with the large ones too.</summary>
    public static TheoryData<string, int, bool, GemmTiles> Networks
    {
        get
        {
            var data = new TheoryData<string, int, bool, GemmTiles>();
            foreach (var (network, batch) in new[] { ("alexnet", 128), ("vgg16", 64), ("lenet", 128), ("mixed", 128) })
                foreach (var tiles in network == "alexnet" ? [GemmTiles.Standard, GemmTiles.Large, GemmTiles.Pipelined] : new[] { GemmTiles.Standard, GemmTiles.Pipelined })
                    foreach (var tf32 in new[] { true, false })
                        data.Add(network, batch, tf32, tiles);
            return data;
        }
    }

    [Theory]
    [MemberData(nameof(Networks))]
    public void EveryKernelFitsWithoutSpillsAndTwoBlocksPerSm(string network, int batch, bool tf32, GemmTiles tiles)
    {
        if (Nvrtc.Get(out var problem) is null)
        {
            Assert.False(Environment.GetEnvironmentVariable("DSL_REQUIRE_NVRTC") == "1", problem);
            output.WriteLine($"skipped: {problem}");
            return;
        }
        var inferred = network == "mixed" ? Tests.Networks.Text(StepCases.Mixed) : Tests.Networks.Model(network + ".model", 1000);
        var precision = tf32 ? Precision.Default : Precision.Fp32;
        var clock = Stopwatch.StartNew();
        var failures = new List<string>();
        foreach (var arch in new[] { 80, 90 })
        {
            var target = KernelTarget.Parse($"cuda:sm_{arch}", precision);
            Assert.Equal(tf32, target.Target.TensorCores);
            foreach (var source in KernelListing.Render(inferred, target, batch, tiles))
            {
                var rows = KernelListing.Measure(source, arch, $"{network}-{source.Step}");
                // Pipelined: 2 stages (sm_80) or 3 (sm_90) of 128 x 36 floats of A and of B on tensor cores, 32 x 128 each in FP32.
                int dynamic = tiles == GemmTiles.Pipelined ? (arch == 80 ? 2 : 3) * (tf32 ? 36864 : 32768) : 0;
                Assert.All(rows.Where(r => IsGemm(r.Function)), r => Assert.Equal(dynamic, r.DynamicSharedBytes));
                Assert.Equal(source.Threads.Keys.Order(StringComparer.Ordinal), rows.Select(r => r.Function));
                foreach (var r in rows)
                {
                    var label = $"sm_{arch} {source.Step} {r.Function}";
                    if (r.SpillStores + r.SpillLoads > 0) failures.Add($"{label} spills {r.SpillStores} B stored, {r.SpillLoads} B loaded");
                    if (r.StackFrame > 0) failures.Add($"{label} has a {r.StackFrame}-byte stack frame");
                    if (r.BlocksPerSm < 2) failures.Add($"{label} fits {r.BlocksPerSm} block per SM ({r.LimitedBy})");
                }
                var gemms = rows.Where(r => IsGemm(r.Function)).ToList();
                output.WriteLine($"sm_{arch} {source.Step}: {rows.Count} kernels, registers {rows.Min(r => r.Registers)}-{rows.Max(r => r.Registers)}" +
                    (gemms.Count > 0 ? $", GEMMs {gemms.Min(r => r.Registers)}-{gemms.Max(r => r.Registers)} registers, {gemms.Max(r => r.SharedBytes + r.DynamicSharedBytes)} B shared" : "") +
                    $", blocks per SM {rows.Min(r => r.BlocksPerSm)}-{rows.Max(r => r.BlocksPerSm)}");
            }
        }
        output.WriteLine($"{network} batch {batch} {(tf32 ? "TF32" : "FP32")} {tiles} tiles: {clock.Elapsed.TotalSeconds:F1} s");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    static bool IsGemm(string function) => (function.Contains("conv") || function.Contains("dense")) && !function.EndsWith("_bias");
}
