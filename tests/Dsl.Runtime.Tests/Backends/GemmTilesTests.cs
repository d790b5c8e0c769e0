using Dsl.Compiler.Render;
using Dsl.Core;
using Xunit;

namespace Dsl.Runtime.Tests.Backends;

/// <summary>The `--tiles` switch: which tunings it gives, and where large and pipelined tiles are refused.</summary>
public class GemmTilesTests
{
    [Fact]
    public void LargeTilesAre128By128By32OnAnAmpereOrHopperSizedTarget()
    {
        var gpu = new Target(TargetKind.GpuTarget, 1024, 48 * 1024, 4, 32, true, true, 227 * 1024);
        var t = GemmTilesChoice.Tuning(gpu, GemmTiles.Large);
        Assert.Equal((128, 128, 32, 8, 8, true), (t.TileM, t.TileN, t.TileK, t.WorkM, t.WorkN, t.TensorCores));
        // 4 bytes x 32 deep x (128 + 4 + 128 + 4) padded columns.
        Assert.Equal(33792, TuningModule.gemmLocalBytes(t));
        Assert.Equal(64, GemmTilesChoice.Tuning(gpu, GemmTiles.Standard).TileM);
    }

    [Fact]
    public void LargeTilesAreRefusedWhereSharedMemoryOrBlocksAreTooSmall()
    {
        var small = new Target(TargetKind.GpuTarget, 1024, 16 * 1024, 4, 32, false, false, 16 * 1024);
        var e = Assert.Throws<DeviceException>(() => GemmTilesChoice.Tuning(small, GemmTiles.Large));
        Assert.Contains("--tiles standard", e.Message);
        Assert.Throws<DeviceException>(() => GemmTilesChoice.Tuning(new Target(TargetKind.CpuTarget, 4096, 1 << 20, 8, 1, false, false, 1 << 20), GemmTiles.Large));
        Assert.Throws<ArgumentException>(() => GemmTilesChoice.Parse("huge"));
    }

    /// <summary>As many stages as let two blocks share an SM: half the opt-in shared memory per block over one stage's
    /// 36 KiB on tensor cores (128 x 36 floats of A and of B) or 32 KiB in FP32.</summary>
    [Theory]
    [InlineData(163, true, 2, 73728)]
    [InlineData(227, true, 3, 110592)]
    [InlineData(163, false, 2, 65536)]
    [InlineData(227, false, 3, 98304)]
    public void PipelinedTilesTakeTheStagesTwoBlocksPerSmAllow(int optInKib, bool tensorCores, int stages, long bytes)
    {
        var gpu = new Target(TargetKind.GpuTarget, 1024, 48 * 1024, 4, 32, tensorCores, true, optInKib * 1024L);
        var t = GemmTilesChoice.Tuning(gpu, GemmTiles.Pipelined);
        Assert.Equal((128, 128, 32, stages, tensorCores), (t.TileM, t.TileN, t.TileK, t.Stages, t.TensorCores));
        Assert.Equal(bytes, TuningModule.gemmLocalBytes(t));
        Assert.Equal(GemmTiles.Pipelined, GemmTilesChoice.Parse("pipelined"));
    }

    /// <summary>No cp.async (OpenCL, or CUDA before compute capability 8.0), or too little opt-in shared memory for two stages
    /// at two blocks per SM: refused, naming the other choices; a tuning asking for stages anyway is a problem.</summary>
    [Fact]
    public void PipelinedTilesAreRefusedWithoutAsyncCopiesOrTheSharedMemory()
    {
        var openCl = new Target(TargetKind.GpuTarget, 1024, 48 * 1024, 4, 32, false, false, 48 * 1024);
        var e = Assert.Throws<DeviceException>(() => GemmTilesChoice.Tuning(openCl, GemmTiles.Pipelined));
        Assert.Contains("no cp.async", e.Message);
        Assert.Contains("--tiles large", e.Message);
        var volta = new Target(TargetKind.GpuTarget, 1024, 48 * 1024, 4, 32, false, true, 96 * 1024);
        Assert.Contains("allows 96 KiB", Assert.Throws<DeviceException>(() => GemmTilesChoice.Tuning(volta, GemmTiles.Pipelined)).Message);
        var asked = TuningModule.large(openCl).Value;
        Assert.Contains("cp.async", TuningModule.problem(openCl, new Tuning(asked.WorkGroup, 128, 128, 32, 8, 8, 4, false, 2)).Value);
    }
}
