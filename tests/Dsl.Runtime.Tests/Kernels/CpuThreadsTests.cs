using System.Threading;
using Dsl.Runtime.Cpu;
using Xunit;

namespace Dsl.Runtime.Tests.Kernels;

public unsafe class CpuThreadsTests
{
    private struct MarkJob : IParallelJob
    {
        public int* Hits;
        public bool Nested;

        public void Run(int begin, int end)
        {
            for (int i = begin; i < end; i++)
            {
                Interlocked.Increment(ref Hits[i]);
                if (Nested)
                {
                    // a nested loop runs serially on the calling worker and must still cover its range
                    var inner = new MarkJob { Hits = Hits + 1000 };
                    CpuThreads.For(10, 1, ref inner);
                }
            }
        }
    }

    [Fact]
    public void EveryIndexRunsExactlyOnce()
    {
        foreach (int total in new[] { 1, 2, 3, 17, 999 })
        foreach (int grain in new[] { 1, 5, 1000 })
        {
            var hits = new int[1010];
            fixed (int* h = hits)
            {
                var job = new MarkJob { Hits = h, Nested = total == 17 };
                CpuThreads.For(total, grain, ref job);
            }
            for (int i = 0; i < total; i++) Assert.Equal(1, hits[i]);
            for (int i = total; i < 1000; i++) Assert.Equal(0, hits[i]);
            if (total == 17)
                for (int i = 1000; i < 1010; i++) Assert.Equal(17, hits[i]);
        }
    }

    [Fact]
    public void ChunksAreStaticAndCoverTheRange()
    {
        for (int parts = 1; parts <= 5; parts++)
        {
            int next = 0;
            for (int p = 0; p < parts; p++)
            {
                var (b, e) = CpuThreads.Chunk(103, parts, p);
                Assert.Equal(next, b);
                Assert.InRange(e - b, 103 / parts, 103 / parts + 1);
                next = e;
            }
            Assert.Equal(103, next);
        }
    }
}
