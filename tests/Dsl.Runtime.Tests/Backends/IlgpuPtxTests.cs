using System.Diagnostics;
using Dsl.Compiler;
using Dsl.Core;
using Dsl.Runtime.Checks;
using Dsl.Runtime.Cuda;
using Dsl.Runtime.Ilgpu;
using Xunit;
using Xunit.Abstractions;

namespace Dsl.Runtime.Tests.Backends;

/// <summary>What ptxas 11.8 makes of ILGPU's PTX for every kernel of AlexNet, VGG16, LeNet and the every-layer network
/// (training and inference, and the optimizer updates), for sm_80 and sm_90, at IlgpuDevice.Level: no spills, no stack frame,
/// at least 2 blocks of 256 threads per SM. ptxas comes from Debian's nvidia-cuda-toolkit .deb, unpacked by
/// bench/cuda-tools.sh; without it the test says so and passes, unless DSL_REQUIRE_PTXAS=1 (as in CI).</summary>
public class IlgpuPtxTests(ITestOutputHelper output)
{
    /// <summary>Where bench/cuda-tools.sh unpacks ptxas: under the user's cache (the test run points XDG_CACHE_HOME at a
    /// scratch folder, so HOME's is tried too); DSL_PTXAS overrides both.</summary>
    static string PtxasPath()
    {
        if (Environment.GetEnvironmentVariable("DSL_PTXAS") is { Length: > 0 } given) return given;
        var caches = new[] { Environment.GetEnvironmentVariable("XDG_CACHE_HOME"), Path.Combine(Environment.GetEnvironmentVariable("HOME") ?? "/", ".cache") };
        var paths = caches.Where(c => !string.IsNullOrEmpty(c)).Select(c => Path.Combine(c!, "dsl", "cuda-toolkit", "usr", "bin", "ptxas")).ToList();
        return paths.FirstOrDefault(File.Exists) ?? paths.Last();
    }

    [Theory]
    [InlineData(80)]
    [InlineData(90)]
    public void EveryKernelFitsWithoutSpillsAndTwoBlocksPerSm(int arch)
    {
        var clock = Stopwatch.StartNew();
        var plans = new[] { ("alexnet", 128), ("vgg16", 64), ("lenet", 128), ("mixed", 128) }.SelectMany(n =>
        {
            var inferred = n.Item1 == "mixed" ? Networks.Text(StepCases.Mixed) : Networks.Model(n.Item1 + ".model", 1000);
            return new[] { MemoryPlan.compile(PlanMode.Training, n.Item2, inferred), MemoryPlan.compile(PlanMode.Inference, n.Item2, inferred) };
        }).ToList();
        var kernels = IlgpuPtx.Compile(plans, arch);
        Assert.Contains(kernels, k => k.Name.EndsWith("BatchNormBackward"));
        Assert.All(kernels, k => Assert.Contains(".entry", k.Ptx));
        var ptxas = PtxasPath();
        if (!File.Exists(ptxas))
        {
            Assert.False(Environment.GetEnvironmentVariable("DSL_REQUIRE_PTXAS") == "1", $"no ptxas at {ptxas}: run bench/cuda-tools.sh");
            output.WriteLine($"skipped the ptxas budgets: no {ptxas}; bench/cuda-tools.sh unpacks it from Debian's nvidia-cuda-toolkit ({kernels.Count} kernels compiled to PTX)");
            return;
        }
        var sm = Occupancy.For(arch);
        var failures = new List<string>();
        var dir = Directory.CreateTempSubdirectory("dsl-ilgpu-ptx-").FullName;
        foreach (var k in kernels)
        {
            var file = Path.Combine(dir, k.Name + ".ptx");
            File.WriteAllText(file, k.Ptx);
            var run = Process.Start(new ProcessStartInfo(ptxas, $"-arch=sm_{arch} -v {file} -o {file}.cubin") { RedirectStandardError = true, RedirectStandardOutput = true })!;
            var log = run.StandardError.ReadToEnd() + run.StandardOutput.ReadToEnd();
            run.WaitForExit();
            Assert.True(run.ExitCode == 0, $"ptxas failed on {k.Name}:\n{log}");
            var e = Assert.Single(PtxasReport.Parse(log));
            var (blocks, limit) = Occupancy.BlocksPerSm(sm, IlgpuPtx.BlockThreads, e.Registers, e.SharedBytes);
            output.WriteLine($"sm_{arch} {k.Name}: {e.Registers} registers, stack {e.StackFrame}, spills {e.SpillStores}/{e.SpillLoads}, {e.SharedBytes} B shared, {blocks} blocks/SM");
            if (e.SpillStores + e.SpillLoads > 0) failures.Add($"{k.Name} spills");
            if (e.StackFrame > 0) failures.Add($"{k.Name} has a {e.StackFrame}-byte stack frame");
            if (blocks < 2) failures.Add($"{k.Name} fits {blocks} block per SM ({limit})");
        }
        Directory.Delete(dir, true);
        output.WriteLine($"{kernels.Count} kernels, {clock.Elapsed.TotalSeconds:F1} s");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }
}
