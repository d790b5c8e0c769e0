using Dsl.Runtime.Checks;
using Xunit;
using Xunit.Abstractions;

namespace Dsl.Runtime.Tests.Backends;

/// <summary>Every kernel case of the harness on every backend present, against the CPU device. A backend that is absent
/// passes with a line saying so (xunit 2 cannot skip at run time).</summary>
[Collection("backends")]
public class KernelTests(ITestOutputHelper output)
{
    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var backend in Checks.Backends.Names)
            foreach (var c in KernelCases.All()) data.Add(backend, c.Name);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void KernelMatchesTheCpuDevice(string backend, string name)
    {
        if (BackendDevices.Open(backend, out var absent) is not { } device)
        {
            output.WriteLine($"skipped: {backend} is absent: {absent}");
            return;
        }
        var result = Harness.Check(device, BackendDevices.Cpu, KernelCases.All().Single(c => c.Name == name));
        output.WriteLine($"{device.Name}: error {result.Error:E2} (worst: {result.Worst}), tolerance {result.Tolerance:E0}, {result.Seconds:F2} s");
        Assert.True(result.Passed, $"{name} on {backend}: relative error {result.Error:E2} in {result.Worst}, tolerance {result.Tolerance:E0}");
    }
}
