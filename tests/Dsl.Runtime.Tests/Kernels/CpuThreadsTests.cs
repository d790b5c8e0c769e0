using System;
using System.Linq;
using System.Threading;
using Dsl.Runtime.Cpu;
using Xunit;

namespace Dsl.Runtime.Tests.Kernels;

/// <summary>The pool's timing tests want its workers to themselves (asleep between loops, not woken by another test's):
/// they run alone.</summary>
[CollectionDefinition("cpu-threads", DisableParallelization = true)]
public sealed class CpuThreadsCollection;

[Collection("cpu-threads")]
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

    /// <summary>Records each index's slot and thread, and waits at index 0 so the other threads must take the rest.</summary>
    private struct SlotJob : IParallelJob
    {
        public int* Hits, Slots, Threads;
        public int Sleep;

        public void Run(int begin, int end)
        {
            for (int i = begin; i < end; i++)
            {
                if (i == 0) Thread.Sleep(Sleep);
                Interlocked.Increment(ref Hits[i]);
                Slots[i] = CpuThreads.Slot;
                if (Threads != null) Threads[i] = Environment.CurrentManagedThreadId;
            }
        }
    }

    [Fact]
    public void ForEachRunsEveryIndexOnceOnSlotsBelowItsParts()
    {
        int saved = CpuThreads.Count;
        try
        {
            CpuThreads.Count = 4;
            foreach (int total in new[] { 1, 2, 7, 64, 1000 })
            foreach (int block in new[] { 1, 3 })
            foreach (int maxParts in new[] { 1, 2, 8 })
            {
                var (hits, slots) = Run(total, block, maxParts, 0);
                Assert.All(hits, v => Assert.Equal(1, v));
                Assert.All(slots, v => Assert.InRange(v, 0, Math.Min(Math.Min(4, maxParts), (total + block - 1) / block) - 1));
            }
        }
        finally
        {
            CpuThreads.Count = saved;
        }
    }

    [Fact]
    public void ForEachGivesTheBlocksOfASlowThreadToTheOthers()
    {
        int saved = CpuThreads.Count;
        try
        {
            CpuThreads.Count = 2;
            // A loop can still run on the caller alone (its worker late to wake); try until one runs in parallel.
            for (int attempt = 0; attempt < 20; attempt++)
            {
                var (hits, slots) = Run(64, 2, 2, 50);
                Assert.All(hits, v => Assert.Equal(1, v));
                if (slots.All(s => s == slots[0])) continue;
                // While the thread with index 0 sleeps, the other takes every later block.
                Assert.All(slots.Skip(2), s => Assert.NotEqual(slots[0], s));
                return;
            }
            Assert.Fail("no loop ran on two threads in 20 attempts");
        }
        finally
        {
            CpuThreads.Count = saved;
        }
    }

    /// <summary>A worker asleep when a loop starts (idle past its spin) takes longer to wake than the caller takes for
    /// its own share: the caller then runs the worker's static share itself, under the worker's slot.</summary>
    [Fact]
    public void TheCallerRunsTheShareOfAWorkerNotYetStarted()
    {
        int saved = CpuThreads.Count;
        try
        {
            CpuThreads.Count = 2;
            int caller = Environment.CurrentManagedThreadId;
            // The worker's wake can still beat the caller's share now and then: try until the caller wins once.
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (clock.Elapsed.TotalSeconds < 20)
            {
                Thread.Sleep(5); // past the workers' spin: they sleep
                var hits = new int[2];
                var slots = new int[2];
                var threads = new int[2];
                fixed (int* h = hits, s = slots, t = threads)
                {
                    var job = new SlotJob { Hits = h, Slots = s, Threads = t };
                    CpuThreads.For(2, 1, ref job);
                }
                Assert.All(hits, v => Assert.Equal(1, v));
                // Index 1 is the worker's share: on a worker (slot 1), on the caller alone when the pool was busy (slot 0),
                // or on the caller for the worker (slot 1), which is what this test waits to see.
                if (threads[1] == caller && slots[1] == 1) return;
            }
            Assert.Fail("the caller never ran a sleeping worker's share in 20 s of loops");
        }
        finally
        {
            CpuThreads.Count = saved;
        }
    }

    /// <summary>Workers claiming their shares while the caller takes over the unclaimed ones: every index still runs once.</summary>
    [Fact]
    public void EveryIndexRunsOnceWhileWorkersRaceTheCallerForTheirShares()
    {
        int saved = CpuThreads.Count;
        try
        {
            var r = new Random(5);
            for (int loop = 0; loop < 400; loop++)
            {
                CpuThreads.Count = 2 + loop % 3;
                if (loop % 7 == 0) Thread.Sleep(1); // some loops find the workers asleep, most spinning
                int total = 1 + r.Next(12);
                var hits = new int[total];
                fixed (int* h = hits)
                {
                    var job = new MarkJob { Hits = h };
                    CpuThreads.For(total, 1, ref job);
                }
                Assert.All(hits, v => Assert.Equal(1, v));
            }
        }
        finally
        {
            CpuThreads.Count = saved;
        }
    }

    private static (int[] Hits, int[] Slots) Run(int total, int block, int maxParts, int sleep)
    {
        var hits = new int[total];
        var slots = new int[total];
        fixed (int* h = hits, s = slots)
        {
            var job = new SlotJob { Hits = h, Slots = s, Sleep = sleep };
            CpuThreads.ForEach(total, block, maxParts, ref job);
        }
        return (hits, slots);
    }
}
