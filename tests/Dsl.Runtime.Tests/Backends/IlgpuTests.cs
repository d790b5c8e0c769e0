using Dsl.Compiler;
using Dsl.Core;
using Dsl.Runtime.Checks;
using Dsl.Runtime.Ilgpu;
using Xunit;
using Xunit.Abstractions;

namespace Dsl.Runtime.Tests.Backends;

/// <summary>The ILGPU kernels beyond single kernels, on ILGPU's CPU accelerator (present everywhere): whole steps
/// against the CPU device.</summary>
[Collection("backends")]
public class IlgpuTests(ITestOutputHelper output)
{
    static IDevice Device() => BackendDevices.Open("ilgpu-cpu", out var absent) ?? throw new InvalidOperationException($"ilgpu-cpu is absent: {absent}");

    void Report(CheckResult r) => output.WriteLine($"{r.Name}: error {r.Error:E2} ({r.Worst}), tolerance {r.Tolerance:E0}, {r.Seconds:F1} s");

    /// <summary>Every layer kind composed (grouped and strided convolutions, LRN, max and ceil average pooling, batch norm,
    /// dropout), with arena reuse: loss, probabilities, gradients and the loss after an SGD update to 1e-4; every buffer
    /// of the step is freed after it.</summary>
    [Fact]
    public void AMixedNetworkStepMatchesTheCpuDevice()
    {
        var device = Device();
        int buffers = device.LiveBuffers;
        var result = Harness.Step(device, BackendDevices.Cpu, "mixed", MemoryPlan.compile(PlanMode.Training, 5, Networks.Text(StepCases.Mixed)), 1e-4);
        Report(result);
        Assert.True(result.Passed, $"{result.Worst}: {result.Error:E2}");
        Assert.Equal(buffers, device.LiveBuffers);
    }

    /// <summary>The same network's inference step (batch norm with its running statistics, no dropout): the probabilities.</summary>
    [Fact]
    public void AMixedNetworkInferenceMatchesTheCpuDevice()
    {
        var plan = MemoryPlan.compile(PlanMode.Inference, 3, Networks.Text(StepCases.Mixed));
        float[] Probabilities(IDevice device)
        {
            using var parameters = new ParameterSet(device, plan, 4);
            parameters.Initialize(InitScheme.He);
            using var runner = device.Load(plan, parameters);
            var rng = new Random(2);
            var images = new float[plan.Buffers[plan.Images].Floats];
            for (int i = 0; i < images.Length; i++) images[i] = (float)(rng.NextDouble() * 2 - 1);
            runner.SetBatch(images, new int[plan.Batch]);
            runner.Run(1);
            var probs = new float[plan.Batch * plan.Classes];
            runner.ReadProbabilities(probs);
            return probs;
        }
        var got = Probabilities(Device());
        var want = Probabilities(BackendDevices.Cpu);
        Assert.All(want.Zip(got), p => Assert.Equal(p.First, p.Second, 1e-5f));
    }

    [Fact]
    public void TheDeviceSaysItRunsIlgpuKernels() => Assert.Contains("ILGPU", Device().Name);

    /// <summary>Without a GPU, asking for ILGPU's CUDA kernels is a clear refusal naming what to use instead.</summary>
    [Fact]
    public void CudaWithoutAGpuIsRefusedClearly()
    {
        if (IlgpuDevice.CudaGpus(out _).Count > 0)
        {
            output.WriteLine("skipped: this machine has a CUDA GPU");
            return;
        }
        var e = Assert.Throws<DeviceException>(IlgpuDevice.OpenCuda);
        Assert.Contains("--device cpu", e.Message);
    }
}
