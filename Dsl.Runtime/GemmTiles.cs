using Dsl.Compiler.Render;
using Dsl.Core;

namespace Dsl.Runtime;

/// <summary>Which GEMM tiles the convolution and dense kernels use on a GPU (`--tiles`), so that one run can measure both.</summary>
public enum GemmTiles
{
    /// <summary>64 x 64 blocks, 16 deep (8.5 KiB of shared memory): what the compiler chooses for every GPU.</summary>
    Standard,

    /// <summary>128 x 128 blocks, 32 deep (33 KiB on tensor cores): twice the FLOPs per byte loaded, for GPUs as large as the A100 and H100.</summary>
    Large,
}

public static class GemmTilesChoice
{
    public const string Names = "standard (64x64) or large (128x128)";

    /// <summary>The tuning <paramref name="tiles"/> names for <paramref name="target"/>; DeviceException where the target
    /// cannot take large tiles.</summary>
    public static Tuning Tuning(Target target, GemmTiles tiles) => tiles switch
    {
        GemmTiles.Standard => TuningModule.choose(target),
        _ => TuningModule.large(target) is { } t ? t.Value
            : throw new DeviceException($"large GEMM tiles (128x128, 32 deep: 256 threads and 32 KiB of shared memory per block, 33 KiB on tensor cores) " +
                $"do not fit this device ({target.MaxWorkGroupSize} threads, {target.LocalMemoryBytes / 1024} KiB per block); use --tiles standard"),
    };

    public static GemmTiles Parse(string? name) => name switch
    {
        null or "standard" => GemmTiles.Standard,
        "large" => GemmTiles.Large,
        _ => throw new ArgumentException($"unknown GEMM tiles `{name}`; use {Names}"),
    };
}
