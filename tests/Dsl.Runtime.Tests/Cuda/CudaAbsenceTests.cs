using Dsl.Runtime.Cuda;
using Xunit;
using Xunit.Abstractions;

namespace Dsl.Runtime.Tests.Cuda;

/// <summary>What the CUDA device does without a GPU, and the arithmetic and naming it relies on. Where a driver is
/// present the absence tests say so and pass; the kernel harness (Backends/KernelTests.cs) checks CUDA itself.</summary>
public class CudaAbsenceTests(ITestOutputHelper output)
{
    static readonly Dictionary<string, string> Env = new() { ["CUDA_PATH"] = "/opt/cuda", ["LD_LIBRARY_PATH"] = "/a:/b", ["HOME"] = "/home/u", ["VIRTUAL_ENV"] = "/venv" };

    static IEnumerable<string> FakeGlob(string dir, string pattern) => (dir, pattern) switch
    {
        ("/usr/local", "cuda-*") => ["/usr/local/cuda-11.8", "/usr/local/cuda-12.10", "/usr/local/cuda-12.9"],
        ("/venv/lib", "python3*") => ["/venv/lib/python3.12"],
        ("/home/u/.local/lib", "python3*") => ["/home/u/.local/lib/python3.11"],
        ("/usr/local/cuda-12.10/lib64", "libnvrtc.so.*") => ["/usr/local/cuda-12.10/lib64/libnvrtc.so.12", "/usr/local/cuda-12.10/lib64/libnvrtc.so.12.10.1"],
        _ => [],
    };

    [Fact]
    public void TheDriverIsSearchedInTheUsualPlaces()
    {
        var c = Libraries.Candidates(Libraries.Driver, k => Env.GetValueOrDefault(k), FakeGlob);
        Assert.Equal("libcuda.so.1", c[0]);
        Assert.Equal(["/opt/cuda/lib64/libcuda.so.1", "/a/libcuda.so.1", "/b/libcuda.so.1", "/usr/local/cuda/lib64/libcuda.so.1",
            "/usr/local/cuda-12.10/lib64/libcuda.so.1", "/usr/local/cuda-12.9/lib64/libcuda.so.1", "/usr/local/cuda-11.8/lib64/libcuda.so.1"], c.Skip(1).Take(7));
        Assert.Contains("/usr/lib/x86_64-linux-gnu/libcuda.so.1", c);
    }

    [Fact]
    public void NvrtcIsSearchedInToolkitsAndPipsPackage()
    {
        var c = Libraries.Candidates(Libraries.Nvrtc, k => Env.GetValueOrDefault(k), FakeGlob);
        Assert.Contains("/usr/local/cuda-12.10/lib64/libnvrtc.so.12.10.1", c);
        Assert.True(c.ToList().IndexOf("/usr/local/cuda-12.10/lib64/libnvrtc.so.12.10.1") < c.ToList().IndexOf("/usr/local/cuda-12.10/lib64/libnvrtc.so.12"));
        Assert.Contains("/venv/lib/python3.12/site-packages/nvidia/cuda_nvrtc/lib/libnvrtc.so", c);
        Assert.Contains("/home/u/.local/lib/python3.11/site-packages/nvidia/cuda_nvrtc/lib/libnvrtc.so", c);
        Assert.Contains("/usr/lib/python3/dist-packages/nvidia/cuda_nvrtc/lib/libnvrtc.so", c);
    }

    [Fact]
    public void AMissingLibraryIsAValueListingEveryPathTried()
    {
        var load = Libraries.Load("libdsl-no-such.so.1", ["libdsl-no-such.so.1", "/nonexistent/libdsl-no-such.so.1"]);
        Assert.False(load.Found);
        Assert.Equal(["libdsl-no-such.so.1", "/nonexistent/libdsl-no-such.so.1"], load.Tried.Select(t => t.Path));
        Assert.Equal("not found", load.Tried[1].Outcome);
        Assert.Contains("/nonexistent/libdsl-no-such.so.1: not found", load.Describe());
    }

    [Fact]
    public void OpeningCudaWithoutADriverNamesThePathsTried()
    {
        var found = Devices.Cuda(out var problem);
        if (found.Count > 0)
        {
            output.WriteLine($"skipped: a CUDA device is present ({found[0].Name})");
            return;
        }
        output.WriteLine(problem);
        var e = Assert.Throws<DeviceException>(() => Devices.Open("cuda"));
        Assert.StartsWith("no CUDA device: ", e.Message);
        if (!Libraries.Load(Libraries.Driver).Found)
        {
            Assert.Contains("/usr/lib/x86_64-linux-gnu/libcuda.so.1: not found", e.Message);
            Assert.Contains("/usr/local/cuda/lib64/libcuda.so.1", e.Message);
        }
        else Assert.Contains("cuInit failed with CUDA_ERROR_", e.Message);
    }

    [Fact]
    public void ResultCodesAreNamed()
    {
        Assert.Equal("CUDA_ERROR_OUT_OF_MEMORY", CuError.Name(2));
        Assert.Equal("CUDA_ERROR_NO_DEVICE", CuError.Name(100));
        Assert.Equal("CUDA_ERROR_UNSUPPORTED_PTX_VERSION", CuError.Name(222));
        Assert.Equal("CUresult 12345", CuError.Name(12345));
        Assert.Equal("NVRTC_ERROR_COMPILATION", CuError.NvrtcName(6));
        Assert.Equal("nvrtcResult 99", CuError.NvrtcName(99));
        var e = Assert.Throws<DeviceException>(() => CuError.Check(2, "allocating x"));
        Assert.Contains("allocating x failed with CUDA_ERROR_OUT_OF_MEMORY", e.Message);
    }

    [Theory]
    // 1000 MiB of arena at batch 128 (8 MiB an example): 100 MiB of room fits 12.
    [InlineData(100L << 20, 1000L << 20, 128, 12)]
    // Room for more than the batch asked for still answers below it: the batch asked for did not fit.
    [InlineData(4000L << 20, 1000L << 20, 128, 127)]
    // Parameters alone overflow the device.
    [InlineData(-5, 1000L << 20, 128, 0)]
    [InlineData(1L << 20, 1000L << 20, 128, 0)]
    public void TheBatchThatFitsIsTheRoomOverTheBytesPerExample(long room, long arenaBytes, int batch, int fits)
    {
        Assert.Equal(fits, StepArithmetic.LargestBatch(room, arenaBytes, batch));
    }

    /// <summary>VGG16 at batch 768 plans a 48 GiB arena, past the 8 GiB that 32-bit indices reach: the message names a batch,
    /// and the plan compiled at that batch fits.</summary>
    [Fact]
    public void AnArenaPastThirtyTwoBitIndicesNamesABatchThatFits()
    {
        var vgg = Networks.Model("vgg16.model", 1000);
        var why = StepArithmetic.IndexLimit(Dsl.Compiler.MemoryPlan.compile(Dsl.Core.PlanMode.Training, 768, vgg));
        Assert.NotNull(why);
        var batch = int.Parse(System.Text.RegularExpressions.Regex.Match(why!, @"--batch (\d+)").Groups[1].Value);
        Assert.InRange(batch, 1, 767);
        Assert.Null(StepArithmetic.IndexLimit(Dsl.Compiler.MemoryPlan.compile(Dsl.Core.PlanMode.Training, batch, vgg)));
    }
}
