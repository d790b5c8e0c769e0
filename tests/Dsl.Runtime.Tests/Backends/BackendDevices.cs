using Dsl.Runtime.Checks;
using Dsl.Runtime.Cpu;
using Xunit;

namespace Dsl.Runtime.Tests.Backends;

/// <summary>Each backend of <see cref="Checks.Backends.Names"/>, opened once for the whole test run, and the CPU reference.</summary>
static class BackendDevices
{
    static readonly Dictionary<string, (IDevice? Device, string? Absent)> opened = new();

    /// <summary>The reference: training on im2col + GEMM, as the other devices' kernels compute (CpuDevice.TrainingWinograd).</summary>
    public static IDevice Cpu { get; } = new CpuDevice(trainingWinograd: false);

    public static IDevice? Open(string backend, out string? absent)
    {
        lock (opened)
        {
            if (!opened.TryGetValue(backend, out var d))
            {
                var device = Checks.Backends.TryOpen(backend, out var why);
                opened[backend] = d = (device, why);
            }
            absent = d.Absent;
            return d.Device;
        }
    }
}

/// <summary>Backend tests share devices and the machine's cores, so they run one at a time.</summary>
[CollectionDefinition("backends", DisableParallelization = true)]
public sealed class BackendCollection;
