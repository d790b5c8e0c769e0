using Dsl.Runtime.Cuda;
using Xunit;

namespace Dsl.Runtime.Tests.Backends;

/// <summary>The ptxas log reader and the occupancy rules, against a log as NVRTC 11.8 wrote it and against blocks per SM worked
/// out by hand from NVIDIA's occupancy calculator rules.</summary>
public class PtxasReportTests
{
    const string Log = """
        ptxas info    : 0 bytes gmem
        ptxas info    : Compiling entry function 'h' for 'sm_80'
        ptxas info    : Function properties for h
        ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
        ptxas info    : Used 8 registers, 360 bytes cmem[0]
        ptxas info    : Compiling entry function 'f' for 'sm_80'
        ptxas info    : Function properties for f
        ptxas         .     16 bytes stack frame, 12 bytes spill stores, 8 bytes spill loads
        ptxas info    : Used 48 registers, 8704 bytes smem, 360 bytes cmem[0]
        ptxas info    : Function properties for _Z1gf
        ptxas         .     32 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
        """;

    [Fact]
    public void ReadsEveryEntryFunctionAndIgnoresHelpers()
    {
        var entries = PtxasReport.Parse(Log);
        Assert.Equal([new PtxasReport.Entry("h", 8, 0, 0, 0, 0), new PtxasReport.Entry("f", 48, 16, 12, 8, 8704)], entries);
    }

    [Theory]
    // 256 threads: 48 registers -> 1536 per warp, 10 warps per 16K sub-partition, 40 warps, 5 blocks of 8 warps.
    [InlineData(80, 256, 48, 8704, 5, "registers")]
    // 64 registers -> 2048 per warp, 8 per sub-partition, 32 warps: 4 blocks.
    [InlineData(90, 256, 64, 8704, 4, "registers")]
    // 255 registers -> 8192 per warp (rounded to 256s), 2 per sub-partition, 8 warps: 1 block of 256.
    [InlineData(90, 256, 255, 0, 1, "registers")]
    // 18 registers: the 2048 threads of the SM allow 8 blocks of 256 before registers (14 per sub-partition) do.
    [InlineData(80, 256, 18, 0, 8, "threads")]
    // 100 KiB of shared memory + 1 KiB reserved: one block in sm_80's 164 KiB, two in sm_90's 228 KiB.
    [InlineData(80, 256, 32, 102400, 1, "shared memory")]
    [InlineData(90, 256, 32, 102400, 2, "shared memory")]
    // 32 threads with few registers: the 32-block limit.
    [InlineData(90, 32, 16, 0, 32, "blocks")]
    public void BlocksPerSmFollowTheOccupancyRules(int arch, int threads, int registers, int shared, int blocks, string limit)
    {
        Assert.Equal((blocks, limit), Occupancy.BlocksPerSm(Occupancy.For(arch), threads, registers, shared));
    }
}
