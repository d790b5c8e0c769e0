using Dsl.Compiler.Render;
using Dsl.Core;
using Xunit;

namespace Dsl.Runtime.Tests.Backends;

/// <summary>The `--tiles` switch: which tunings it gives, and where large tiles are refused.</summary>
public class GemmTilesTests
{
    [Fact]
    public void LargeTilesAre128By128By32OnAnAmpereOrHopperSizedTarget()
    {
        var gpu = new Target(TargetKind.GpuTarget, 1024, 48 * 1024, 4, 32, true);
        var t = GemmTilesChoice.Tuning(gpu, GemmTiles.Large);
        Assert.Equal((128, 128, 32, 8, 8, true), (t.TileM, t.TileN, t.TileK, t.WorkM, t.WorkN, t.TensorCores));
        // 4 bytes x 32 deep x (128 + 4 + 128 + 4) padded columns.
        Assert.Equal(33792, TuningModule.gemmLocalBytes(t));
        Assert.Equal(64, GemmTilesChoice.Tuning(gpu, GemmTiles.Standard).TileM);
    }

    [Fact]
    public void LargeTilesAreRefusedWhereSharedMemoryOrBlocksAreTooSmall()
    {
        var small = new Target(TargetKind.GpuTarget, 1024, 16 * 1024, 4, 32, false);
        var e = Assert.Throws<DeviceException>(() => GemmTilesChoice.Tuning(small, GemmTiles.Large));
        Assert.Contains("--tiles standard", e.Message);
        Assert.Throws<DeviceException>(() => GemmTilesChoice.Tuning(new Target(TargetKind.CpuTarget, 4096, 1 << 20, 8, 1, false), GemmTiles.Large));
        Assert.Throws<ArgumentException>(() => GemmTilesChoice.Parse("huge"));
    }
}
