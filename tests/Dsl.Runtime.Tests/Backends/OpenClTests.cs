using Dsl.Compiler;
using Dsl.Compiler.Render;
using Dsl.Core;
using Dsl.Runtime.Checks;
using Dsl.Runtime.OpenCl;
using Xunit;
using Xunit.Abstractions;

namespace Dsl.Runtime.Tests.Backends;

/// <summary>The OpenCL device beyond single kernels: whole steps against the CPU device, other tile sizes, and the
/// messages a failed build or a step too large for the device give.</summary>
[Collection("backends")]
public class OpenClTests(ITestOutputHelper output)
{
    OpenClDevice? Device()
    {
        if (BackendDevices.Open("opencl", out var absent) is OpenClDevice d) return d;
        output.WriteLine($"skipped: no OpenCL device: {absent}");
        return null;
    }

    void Report(CheckResult r) => output.WriteLine($"{r.Name}: error {r.Error:E2} ({r.Worst}), tolerance {r.Tolerance:E0}, {r.Seconds:F1} s");

    /// <summary>Every layer kind composed, with arena reuse and dropout: loss, probabilities and gradients to 1e-4.</summary>
    [Fact]
    public void AMixedNetworkStepMatchesTheCpuDevice()
    {
        if (Device() is not { } device) return;
        var network = Networks.Text(StepCases.Mixed);
        var result = Harness.Step(device, BackendDevices.Cpu, "mixed", MemoryPlan.compile(PlanMode.Training, 5, network), 1e-4);
        Report(result);
        Assert.True(result.Passed, $"{result.Worst}: {result.Error:E2}");
    }

    /// <summary>An AlexNet training step (dropout included) on the same weights and batch gives the CPU's loss, probabilities
    /// and gradients to 1e-4 (measured: about 3e-7 for the loss, 3e-6 for gradients).</summary>
    [Fact]
    public void AnAlexNetStepMatchesTheCpuDevice()
    {
        if (Device() is not { } device) return;
        var plan = MemoryPlan.compile(PlanMode.Training, 2, Networks.Model("alexnet.model", 10));
        var result = Harness.Step(device, BackendDevices.Cpu, "alexnet", plan, 1e-4);
        Report(result);
        Assert.True(result.Passed, $"{result.Worst}: {result.Error:E2}");
    }

    /// <summary>The large GEMM tiles (`--tiles large`: 128 x 128, 32 deep, 8 x 8 outputs per item) in FP32, on the same device:
    /// a grouped, strided, padded convolution (forward, both gradients) and a dense layer 300 deep (ten slices) against the CPU
    /// device; two cases only, since PoCL takes about 20 s to build each. Their tensor-core form is checked by CudaEmulatorTests.</summary>
    [Fact]
    public void LargeTilesGiveTheSameResults()
    {
        if (Device() is not { } shared) return;
        var tuning = GemmTilesChoice.Tuning(new Target(TargetKind.GpuTarget, 1024, 48 * 1024, 4, 32, false, false, 48 * 1024), GemmTiles.Large);
        if (TuningModule.problem(shared.Info.Target, tuning) is { } problem)
        {
            output.WriteLine($"skipped: {shared.Info.Name} cannot take large tiles: {problem.Value}");
            return;
        }
        using var device = new OpenClDevice(shared.Info, tuning);
        var cases = KernelCases.All().Where(c => c.Name.StartsWith("conv 3x4x11x13 -> 6 kernel 5x3 stride 2") || c.Name.StartsWith("dense 33x300")).ToList();
        Assert.Equal(2, cases.Count);
        foreach (var c in cases)
        {
            var result = Harness.Check(device, BackendDevices.Cpu, c);
            Report(result);
            Assert.True(result.Passed, $"{c.Name}: {result.Error:E2} in {result.Worst}");
        }
    }

    /// <summary>Tiles that divide nothing evenly, one output per item along N, two-wide vectors: the GEMM and
    /// elementwise templates must not depend on the sizes the compiler happens to choose.</summary>
    [Fact]
    public void OddTileSizesGiveTheSameResults()
    {
        if (Device() is not { } shared) return;
        var tuning = new Tuning(workGroup: 32, tileM: 12, tileN: 8, tileK: 5, workM: 3, workN: 1, vector: 2, tensorCores: false, stages: 1);
        using var device = new OpenClDevice(shared.Info, tuning);
        foreach (var c in KernelCases.All().Where(c => c.Name.StartsWith("conv") || c.Name.StartsWith("dense") || c.Name.StartsWith("update") || c.Name.StartsWith("relu")))
        {
            var result = Harness.Check(device, BackendDevices.Cpu, c);
            Report(result);
            Assert.True(result.Passed, $"{c.Name}: {result.Error:E2} in {result.Worst}");
        }
    }

    [Fact]
    public void AFailedBuildShowsTheLogBesideTheLineAndSavesTheSource()
    {
        if (Device() is not { } device) return;
        const string source = "__kernel void broken(__global float* x)\n{\n    x[0] = no_such_name;\n}\n";
        var e = Assert.Throws<DeviceException>(() => device.Programs.Build(source, "broken test"));
        output.WriteLine(e.Message);
        Assert.Contains("CL_BUILD_PROGRAM_FAILURE", e.Message);
        Assert.Contains("no_such_name", e.Message);
        Assert.Contains("    3 |     x[0] = no_such_name;", e.Message);
        var saved = System.Text.RegularExpressions.Regex.Match(e.Message, @"source is in (\S+\.cl)").Groups[1].Value;
        Assert.Equal(source, File.ReadAllText(saved));
    }

    [Fact]
    public void AStepTooLargeForTheDeviceSaysWhichBatchFits()
    {
        if (Device() is not { } device) return;
        var network = Networks.Model("lenet.model", 10);
        var plan = MemoryPlan.compile(PlanMode.Training, 64, network);
        long perExample = plan.ArenaFloats * 4 / 64;
        int batch = (int)Math.Min(int.MaxValue / 2, device.Info.MaxAllocation / perExample * 3);
        var huge = MemoryPlan.compile(PlanMode.Training, batch, network);
        using var parameters = new ParameterSet(device, huge, 1);
        var e = Assert.Throws<DeviceException>(() => device.Load(huge, parameters));
        output.WriteLine(e.Message);
        Assert.Matches(@"a batch of \d+ would fit \(--batch \d+\)", e.Message);
        Assert.Equal(parameters.Trainable.Count * 4, device.LiveBuffers);
    }
}
