using Dsl.Compiler.Render;
using Dsl.Core;

namespace Dsl.Runtime;

/// <summary>Which GEMM tiles the convolution and dense kernels use on a GPU (`--tiles`), so that one run can measure each.</summary>
public enum GemmTiles
{
    /// <summary>64 x 64 blocks, 16 deep (8.5 KiB of shared memory): what the compiler chooses for every GPU.</summary>
    Standard,

    /// <summary>128 x 128 blocks, 32 deep (33 KiB on tensor cores): twice the FLOPs per byte loaded, for GPUs as large as the A100 and H100.</summary>
    Large,

    /// <summary>The large tiles with the next slices copied (cp.async) while one is computed, 2 or 3 stages in dynamic shared
    /// memory (72 KiB on an A100, 108 KiB on an H100 on tensor cores), fragments read by ldmatrix: CUDA, compute capability 8.0 and above.</summary>
    Pipelined,
}

public static class GemmTilesChoice
{
    public const string Names = "standard (64x64), large (128x128) or pipelined (128x128, cp.async stages; CUDA sm_80 and above)";

    /// <summary>The tuning <paramref name="tiles"/> names for <paramref name="target"/>; DeviceException where the target
    /// cannot take them.</summary>
    public static Tuning Tuning(Target target, GemmTiles tiles) => tiles switch
    {
        GemmTiles.Standard => TuningModule.choose(target),
        GemmTiles.Large => TuningModule.large(target) is { } t ? t.Value
            : throw new DeviceException($"large GEMM tiles (128x128, 32 deep: 256 threads and 32 KiB of shared memory per block, 33 KiB on tensor cores) " +
                $"do not fit this device ({target.MaxWorkGroupSize} threads, {target.LocalMemoryBytes / 1024} KiB per block); use --tiles standard"),
        _ => TuningModule.pipelinedTiles(target) is { } p ? p.Value
            : throw new DeviceException("pipelined GEMM tiles (128x128, 32 deep, at least 2 stages copied by cp.async: 64 KiB of shared memory per block, " +
                "72 KiB on tensor cores) need CUDA compute capability 8.0 or above and twice that opt-in shared memory per block; this device " +
                (target.AsyncCopy ? $"allows {target.LocalMemoryOptInBytes / 1024} KiB" : "has no cp.async") + "; use --tiles large or standard"),
    };

    public static GemmTiles Parse(string? name) => name switch
    {
        null or "standard" => GemmTiles.Standard,
        "large" => GemmTiles.Large,
        "pipelined" => GemmTiles.Pipelined,
        _ => throw new ArgumentException($"unknown GEMM tiles `{name}`; use {Names}"),
    };

    /// <summary>The name <see cref="Parse"/> reads.</summary>
    public static string Name(GemmTiles tiles) => tiles.ToString().ToLowerInvariant();
}
