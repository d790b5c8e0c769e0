using Dsl.Compiler;
using Dsl.Core;
using Dsl.Runtime.Cpu;
using Dsl.Runtime.Tests.Backends;
using Xunit;
using Xunit.Abstractions;

namespace Dsl.Runtime.Tests;

/// <summary>IDevice.LiveBytes, PeakBytes and ResetPeak against byte counts worked out by hand, on the CPU device and on
/// every backend present; loading a step runner raises the peak by at least the plan's arena.</summary>
[Collection("backends")]
public class DeviceMemoryTests(ITestOutputHelper output)
{
    public static TheoryData<string> Devices()
    {
        var data = new TheoryData<string> { "cpu" };
        foreach (var backend in Checks.Backends.Names) data.Add(backend);
        return data;
    }

    /// <summary>A fresh CPU device (its counts start at zero), or the shared backend device; null where absent.</summary>
    IDevice? Open(string name, out bool owned)
    {
        owned = name == "cpu";
        if (owned) return new CpuDevice();
        if (BackendDevices.Open(name, out var absent) is { } device) return device;
        output.WriteLine($"skipped: {name} is absent: {absent}");
        return null;
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void LiveAndPeakBytesFollowAllocations(string name)
    {
        if (Open(name, out var owned) is not { } device) return;
        try
        {
            long base0 = device.LiveBytes;
            device.ResetPeak();
            Assert.Equal(base0, device.PeakBytes);

            var a = device.Allocate(1000, "a");     // 4000 bytes
            var b = device.Allocate(0, "b");        // an empty tensor still takes one float: 4 bytes
            var c = device.Allocate(250, "c");      // 1000 bytes
            Assert.Equal(base0 + 5004, device.LiveBytes);
            Assert.Equal(base0 + 5004, device.PeakBytes);

            a.Dispose();
            a.Dispose();                            // a second dispose frees nothing more
            Assert.Equal(base0 + 1004, device.LiveBytes);
            Assert.Equal(base0 + 5004, device.PeakBytes);

            device.ResetPeak();
            Assert.Equal(base0 + 1004, device.PeakBytes);
            var d = device.Allocate(10, "d");       // 40 bytes
            Assert.Equal(base0 + 1044, device.PeakBytes);

            b.Dispose(); c.Dispose(); d.Dispose();
            Assert.Equal(base0, device.LiveBytes);
            Assert.Equal(base0 + 1044, device.PeakBytes);
            if (owned) Assert.Equal(0, base0);
        }
        finally { if (owned) device.Dispose(); }
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void LoadingAStepRunnerRaisesThePeakByItsArena(string name)
    {
        if (Open(name, out var owned) is not { } device) return;
        try
        {
            long base0 = device.LiveBytes;
            var plan = MemoryPlan.compile(PlanMode.Training, 8, Networks.Model("lenet.model", 10));
            using (var parameters = new ParameterSet(device, plan, 1))
            {
                // Parameters, their gradients and two optimiser-state tensors each, every one at least a float.
                long expected = plan.Buffers
                    .Where(x => x.Kind.IsParameter || x.Kind.IsRunningStat || x.Kind.IsConstant || x.Kind.IsParameterGrad)
                    .Sum(x => DeviceMemory.BytesOf(x.Floats))
                    + ParameterSet.OptimizerSlots.Length * plan.Params.Sum(p => DeviceMemory.BytesOf(plan.Buffers[p.Value].Floats));
                Assert.Equal(base0 + expected, device.LiveBytes);

                device.ResetPeak();
                long before = device.LiveBytes;
                using (device.Load(plan, parameters)) { }
                long raised = device.PeakBytes - before;
                output.WriteLine($"{device.Name}: parameters and state {expected} bytes, loading raised the peak by {raised} bytes, arena {plan.ArenaFloats * 4}");
                Assert.True(raised >= plan.ArenaFloats * 4, $"loading raised the peak by {raised} bytes, less than the arena's {plan.ArenaFloats * 4}");
                Assert.Equal(before, device.LiveBytes);
            }
            Assert.Equal(base0, device.LiveBytes);
        }
        finally { if (owned) device.Dispose(); }
    }

    /// <summary>SGD keeps one state tensor per weight, Adam two: an SGD parameter set is smaller by one copy of the weights.</summary>
    [Fact]
    public void OptimiserStateHoldsOnlyTheSlotsTheOptimiserUses()
    {
        using var device = new CpuDevice();
        var plan = MemoryPlan.compile(PlanMode.Training, 4, Networks.Model("lenet.model", 10));
        long weights = plan.Params.Sum(p => DeviceMemory.BytesOf(plan.Buffers[p.Value].Floats));
        long Bytes(Optimizer optimizer)
        {
            using var parameters = new ParameterSet(device, plan, 1, optimizer);
            var slots = plan.Params.Select(p => plan.Buffers[p.Value].Name + ParameterSet.OptimizerSlots[1]);
            Assert.Equal(optimizer.IsAdam, slots.All(parameters.Contains));
            return device.LiveBytes;
        }
        Assert.Equal(weights, Bytes(Optimizer.NewAdam(1e-3, 0.9, 0.999, 1e-8, 0)) - Bytes(Optimizer.NewSgd(0.01, 0.9, false, 5e-4)));
    }
}
