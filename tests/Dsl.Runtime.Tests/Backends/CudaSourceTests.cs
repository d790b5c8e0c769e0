using System.Diagnostics;
using Dsl.Compiler;
using Dsl.Compiler.Render;
using Dsl.Core;
using Dsl.Runtime.Checks;
using Dsl.Runtime.Cuda;
using Microsoft.FSharp.Collections;
using Xunit;
using Xunit.Abstractions;

namespace Dsl.Runtime.Tests.Backends;

/// <summary>The CUDA C renderings compiled by the real NVRTC (no GPU needed; CI installs Debian's libnvrtc) to device code for
/// Ampere (sm_80) and Hopper (sm_90): every optimizer's update kernels. Without NVRTC it says so and passes, unless DSL_REQUIRE_NVRTC=1 (as in CI).</summary>
public class CudaSourceTests(ITestOutputHelper output)
{
    /// <summary>The plans' sources of AlexNet, VGG16, LeNet and the every-layer network are compiled (and their ptxas figures
    /// checked) by KernelResourceTests; here every optimizer's update kernels, which those reach only for the models' own.</summary>
    [Fact]
    public void EveryOptimizersUpdatesCompileToDeviceCodeWithNvrtc()
    {
        var nvrtc = Nvrtc.Get(out var problem);
        if (nvrtc is null)
        {
            Assert.False(Environment.GetEnvironmentVariable("DSL_REQUIRE_NVRTC") == "1", problem);
            output.WriteLine($"skipped: {problem}");
            return;
        }
        var tuning = TuningModule.choose(new Target(TargetKind.GpuTarget, 1024, 49152, 4, 32, false, false, 49152));
        var sources = KernelCases.All().Where(c => c.Optimizer is not null).Select(c =>
            Program.updates(Dialect.cuda, tuning, c.Optimizer, ListModule.OfSeq(new[] { 4096L, 1001L })).Text);
        var supported = nvrtc.SupportedArchitectures();
        var archs = new[] { 80, 90 }.Where(a => supported.Length == 0 || supported.Contains(a)).ToArray();
        Assert.True(archs.Contains(80), $"NVRTC {nvrtc.Version} ({nvrtc.Path}) cannot compile for sm_80");
        var clock = Stopwatch.StartNew();
        foreach (var source in sources)
            foreach (var arch in archs)
            {
                var cubin = nvrtc.Compile(source, $"updates-sm_{arch}", Nvrtc.Options($"sm_{arch}"), "test-" + arch);
                Assert.True(cubin.Length > 0 && cubin[..4].SequenceEqual(new byte[] { 0x7f, (byte)'E', (byte)'L', (byte)'F' }), "NVRTC's cubin is not an ELF file");
            }
        output.WriteLine($"NVRTC {nvrtc.Version} ({nvrtc.Path}): sm_{string.Join(", sm_", archs)} in {clock.Elapsed.TotalSeconds:F1} s");
    }
}
