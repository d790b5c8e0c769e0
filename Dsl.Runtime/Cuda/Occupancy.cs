namespace Dsl.Runtime.Cuda;

/// <summary>How many blocks of a kernel one SM holds at once, from its block size, registers per thread and shared memory,
/// by the rules of NVIDIA's occupancy calculator (cuda_occupancy.h) for the architectures dsl checks: registers are given
/// out per warp in units of 256 from four sub-partitions of 16K each; each block's shared memory is rounded up to 128
/// bytes after 1 KiB the driver reserves per block, out of the largest carve-out of the SM.</summary>
public static class Occupancy
{
    /// <summary>One architecture's per-SM limits.</summary>
    public sealed record Sm(int Architecture, int ThreadsPerSm, int BlocksPerSm, int SharedBytesPerSm, int RegistersPerSm);

    /// <summary>sm_80 (A100: 164 KiB of shared memory per SM) and sm_90 (H100, H200: 228 KiB); 2048 threads, 32 blocks and
    /// 64K registers per SM on both.</summary>
    public static Sm For(int architecture) => architecture switch
    {
        80 => new Sm(80, 2048, 32, 164 * 1024, 65536),
        90 => new Sm(90, 2048, 32, 228 * 1024, 65536),
        _ => throw new ArgumentException($"no occupancy rules for sm_{architecture}; dsl knows sm_80 and sm_90"),
    };

    const int WarpSize = 32, RegisterUnit = 256, SubPartitions = 4, ReservedShared = 1024, SharedUnit = 128;

    /// <summary>Blocks per SM and which limit decides it: "threads", "registers", "shared memory" or "blocks".</summary>
    public static (int Blocks, string LimitedBy) BlocksPerSm(Sm sm, int threads, int registers, int sharedBytes)
    {
        int warps = (threads + WarpSize - 1) / WarpSize;
        int regsPerWarp = RoundUp(Math.Max(registers, 1) * WarpSize, RegisterUnit);
        int byRegisters = SubPartitions * (sm.RegistersPerSm / SubPartitions / regsPerWarp) / warps;
        int byShared = sm.SharedBytesPerSm / RoundUp(sharedBytes + ReservedShared, SharedUnit);
        int byThreads = sm.ThreadsPerSm / (warps * WarpSize);
        var limits = new[] { (byThreads, "threads"), (byRegisters, "registers"), (byShared, "shared memory"), (sm.BlocksPerSm, "blocks") };
        return limits.MinBy(l => l.Item1);
    }

    static int RoundUp(int v, int unit) => (v + unit - 1) / unit * unit;
}
