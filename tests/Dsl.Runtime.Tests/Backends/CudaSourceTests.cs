using System.Diagnostics;
using Dsl.Compiler;
using Dsl.Compiler.Render;
using Dsl.Core;
using Dsl.Runtime.Checks;
using Microsoft.FSharp.Collections;
using Xunit;
using Xunit.Abstractions;

namespace Dsl.Runtime.Tests.Backends;

/// <summary>Until a CUDA device runs them, the CUDA C renderings are checked as C++ by the host compiler, with
/// cuda_shim.h standing in for CUDA's built-ins: every kernel kind, both plan modes, every optimizer.</summary>
public class CudaSourceTests(ITestOutputHelper output)
{
    // float4 loads and stores included: vector width 4.
    static readonly Target Gpu = new(TargetKind.GpuTarget, 1024, 49152, 4, 32);

    public static TheoryData<string> Sources => new() { "alexnet", "mixed", "updates" };

    [Theory]
    [MemberData(nameof(Sources))]
    public void CudaRenderingCompilesAsCpp(string which)
    {
        var compiler = new[] { "/usr/bin/g++", "/usr/bin/clang++" }.FirstOrDefault(File.Exists);
        if (compiler is null)
        {
            output.WriteLine("skipped: no host C++ compiler to check CUDA C syntax with");
            return;
        }
        var tuning = TuningModule.choose(Gpu);
        var sources = which switch
        {
            "alexnet" => Plans(Networks.Model("alexnet.model", 10)).Select(p => Program.plan(Dialect.cuda, tuning, p).Text),
            "mixed" => Plans(Networks.Text(StepCases.Mixed)).Select(p => Program.plan(Dialect.cuda, tuning, p).Text),
            _ => KernelCases.All().Where(c => c.Optimizer is not null).Select(c =>
                Program.updates(Dialect.cuda, tuning, c.Optimizer, ListModule.OfSeq(new[] { 4096L, 1001L })).Text),
        };
        foreach (var source in sources)
        {
            var file = Path.Combine(Path.GetTempPath(), $"dsl-cuda-{Guid.NewGuid():N}.cu");
            File.WriteAllText(file, source);
            var shim = Path.Combine(Networks.RepoRoot, "tests", "Dsl.Runtime.Tests", "Backends", "cuda_shim.h");
            var run = Process.Start(new ProcessStartInfo(compiler, ["-std=c++17", "-fsyntax-only", "-Wno-unknown-pragmas", "-include", shim, "-x", "c++", file])
                { RedirectStandardError = true })!;
            var errors = run.StandardError.ReadToEnd();
            run.WaitForExit();
            Assert.True(run.ExitCode == 0, $"{file}:\n{errors}");
            File.Delete(file);
        }
    }

    static IEnumerable<Plan> Plans(Shapes.Inferred network) =>
        [MemoryPlan.compile(PlanMode.Training, 4, network), MemoryPlan.compile(PlanMode.Inference, 4, network)];
}
