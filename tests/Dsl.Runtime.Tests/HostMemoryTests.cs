using Dsl.Runtime.Cpu;
using Xunit;

namespace Dsl.Runtime.Tests;

/// <summary>A plan larger than the memory the CPU device may use is refused before it is allocated, with a batch that fits.</summary>
public class HostMemoryTests
{
    const string Net = """
        network wide
          input 3 x 32 x 32
          conv 32 kernel 3 pad 1 |> relu
          conv 32 kernel 3 pad 1 |> relu
          maxpool 2
          flatten
          dense classes
          softmax
        train
          optimizer sgd lr 0.01 momentum 0.9
        """;

    /// <summary>A device that may use <paramref name="bytes"/> in all: what it has allocated is no longer available,
    /// as the system's available memory falls when a buffer is zeroed.</summary>
    static CpuDevice Given(long bytes)
    {
        CpuDevice? device = null;
        device = new CpuDevice(availableMemory: () => bytes - device!.LiveBytes);
        return device;
    }

    [Fact]
    public void ATooLargeBatchIsRefusedNamingABatchThatFits()
    {
        var net = Networks.Text(Net, 10);
        var config = net.Network.Train!.Value;
        const long given = 64L << 20;
        var tooBig = new TrainOptions { OutputDirectory = Path.GetTempPath(), Batch = 512 };
        using (var device = Given(given))
        {
            var e = Assert.Throws<DeviceException>(() => new Trainer(net, config, device, tooBig));
            Assert.StartsWith("CPU: a training step of wide at batch 512 needs", e.Message);
            var fits = int.Parse(System.Text.RegularExpressions.Regex.Match(e.Message, @"a batch of (\d+) would fit \(--batch \1\)").Groups[1].Value);
            Assert.InRange(fits, 1, 511);
            // The advice is true: that batch trains within the same memory.
            using var fitting = Given(given);
            using var trainer = new Trainer(net, config, fitting, tooBig with { Batch = fits });
            Assert.Equal(fits, trainer.BatchSize);
        }
    }

    [Fact]
    public void ParametersLargerThanTheMemoryAreRefusedByName()
    {
        var net = Networks.Text(Net.Replace("dense classes", "dense 4000 |> relu\n  dense classes"), 10);
        using var device = Given(32L << 20);
        var e = Assert.Throws<DeviceException>(() => new Trainer(net, net.Network.Train!.Value, device, new TrainOptions { OutputDirectory = Path.GetTempPath(), Batch = 1 }));
        // 32,822,154 parameters (dense1 is 8192 x 4000), their gradients and momentum: 3 x 125.2 MiB, refused before any is
        // allocated; 28 MiB is the 32 given less a tenth kept for the rest of the process.
        Assert.Equal("CPU: the parameters of wide, their gradients and the optimizer's state need 375 MiB and 28 MiB of memory is available " +
            "(after 0 MiB already allocated); the network does not fit in this machine's memory at any batch size", e.Message);
        Assert.Equal(0, device.LiveBuffers);
    }

    [Fact]
    public void TheMachineReportsSomeMemory()
    {
        // On Linux MemAvailable exists; a machine with none left could not run this test.
        if (OperatingSystem.IsLinux()) Assert.InRange(HostMemory.Available(), 1L << 20, long.MaxValue - 1);
    }
}
