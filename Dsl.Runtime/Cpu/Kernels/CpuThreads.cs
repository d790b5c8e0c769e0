using System;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading;

namespace Dsl.Runtime.Cpu;

/// <summary>A unit of parallel work over the index range [begin, end); a struct so dispatch never allocates.</summary>
/// <remarks>Hot kernel loops are marked AggressiveOptimization: tiered (Tier0/OSR) code would run the first training steps several times slower.</remarks>
public interface IParallelJob
{
    /// <summary>Processes indices [begin, end).</summary>
    void Run(int begin, int end);
}

/// <summary>Fixed pool of worker threads that runs loops split into equal static chunks, or handed out a block at a time
/// (<see cref="ForEach"/>) where every item's result is the same whoever computes it.</summary>
/// <remarks>A worker joins a loop by claiming its share; the dispatching thread, once done with its own, runs the shares
/// no worker has claimed yet instead of waiting for them: a worker preempted by other processes, or still waking, would
/// take at least as long once it starts. And an idle worker's spin gives up the core between checks, which the dispatcher
/// may be waiting for where the scheduler put both on one. So a loaded machine costs a layer one thread's speed, not a
/// scheduler's time slice per loop: cifar-bn at batch 1, 2 threads on one core (`taskset -c 0`), went from 4.6 ms a
/// step to 0.47, one thread's time (a batch-1 network meets its threads some twenty times a step).</remarks>
public static unsafe class CpuThreads
{
    private static int _count = Environment.ProcessorCount;
    private static readonly object Gate = new();
    private static readonly object SleepLock = new();
    private static Thread[] _workers = [];
    private static int[] _assigned = []; // generation whose share is left to each worker; 0 once claimed (by it or the dispatcher)

    // The job currently dispatched; written by the dispatching thread before the generation bump.
    private static void* _job;
    private static delegate*<void*, int, int, void> _invoke;
    private static int _total, _parts, _block, _next;
    private static bool _dynamic;
    private static int _generation, _pending, _sleepers;
    private static Exception? _error;

    // Set on workers and on a dispatcher while it runs its own chunk: nested loops run serially.
    [ThreadStatic] private static bool t_busy;
    [ThreadStatic] private static int t_slot;

    /// <summary>Which of the threads of the running <see cref="ForEach"/> this is, from 0 (the caller) to its parts - 1:
    /// the index of its own scratch.</summary>
    public static int Slot => t_slot;

    /// <summary>Number of threads used by kernels (the caller's thread included); default Environment.ProcessorCount.</summary>
    public static int Count
    {
        get => _count;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            _count = value;
        }
    }

    /// <summary>Chunk [begin, end) of part <paramref name="part"/> when <paramref name="total"/> items are split into <paramref name="parts"/> parts.</summary>
    public static (int Begin, int End) Chunk(int total, int parts, int part) =>
        ((int)((long)total * part / parts), (int)((long)total * (part + 1) / parts));

    /// <summary>Runs job over [0, total) split into equal static chunks of at least <paramref name="grain"/> items, one per thread.
    /// The job must be a stack local: workers reach it through a pointer until this call returns.</summary>
    public static void For<T>(int total, int grain, ref T job) where T : unmanaged, IParallelJob =>
        Dispatch(total, (int)Math.Min(_count, ((long)total + grain - 1) / Math.Max(1, grain)), 0, ref job);

    /// <summary>Runs job over [0, total) on at most <paramref name="maxParts"/> threads, each taking the next
    /// <paramref name="block"/> items until none are left, so a thread the machine slows down takes fewer. For jobs
    /// whose items do not depend on which thread runs them or on the blocks; scratch is per <see cref="Slot"/>.</summary>
    public static void ForEach<T>(int total, int block, int maxParts, ref T job) where T : unmanaged, IParallelJob
    {
        block = Math.Max(1, block);
        int parts = (int)Math.Min(Math.Min(_count, maxParts), ((long)total + block - 1) / block);
        int saved = t_slot;
        t_slot = 0;
        try { Dispatch(total, parts, block, ref job); }
        finally { t_slot = saved; }
    }

    /// <summary>Static chunks when <paramref name="block"/> is 0, else blocks taken in turn.</summary>
    private static void Dispatch<T>(int total, int parts, int block, ref T job) where T : unmanaged, IParallelJob
    {
        if (total <= 0) return;
        if (parts <= 1 || t_busy || !Monitor.TryEnter(Gate))
        {
            job.Run(0, total);
            return;
        }
        try
        {
            EnsureWorkers(parts - 1);
            _job = Unsafe.AsPointer(ref job);
            _invoke = &Invoke<T>;
            _total = total;
            _parts = parts;
            _dynamic = block > 0;
            _block = block;
            _next = 0;
            _error = null;
            Volatile.Write(ref _pending, parts - 1);
            int generation = _generation == -1 ? 1 : _generation + 1; // never 0, the mark of a claimed share
            for (int i = 0; i < parts - 1; i++) _assigned[i] = generation;
            Interlocked.Exchange(ref _generation, generation);
            if (Volatile.Read(ref _sleepers) > 0)
                lock (SleepLock) Monitor.PulseAll(SleepLock);

            t_busy = true;
            try
            {
                RunShare(0);
                for (int i = 0; i < parts - 1; i++)
                    if (Interlocked.CompareExchange(ref _assigned[i], 0, generation) == generation)
                    {
                        Interlocked.Decrement(ref _pending);
                        RunWorkerShare(i + 1);
                    }
            }
            finally
            {
                t_busy = false;
                var spin = new SpinWait();
                while (Volatile.Read(ref _pending) != 0) spin.SpinOnce(sleep1Threshold: -1);
            }
            if (_error is { } err) throw new AggregateException(err);
        }
        finally
        {
            _job = null;
            Monitor.Exit(Gate);
        }
    }

    /// <summary>A worker's unclaimed share, run by the dispatcher under that worker's slot (a dynamic loop's blocks are
    /// all taken by now: nothing is left to run).</summary>
    private static void RunWorkerShare(int part)
    {
        int saved = t_slot;
        t_slot = part;
        try { RunShare(part); }
        finally { t_slot = saved; }
    }

    private static void Invoke<T>(void* job, int begin, int end) where T : unmanaged, IParallelJob =>
        ((T*)job)->Run(begin, end);

    /// <summary>Part <paramref name="part"/>'s share of the dispatched loop (the dispatcher's is 0): its static chunk, or
    /// blocks taken in turn until none are left.</summary>
    private static void RunShare(int part)
    {
        if (!_dynamic)
        {
            var (b, e) = Chunk(_total, _parts, part);
            _invoke(_job, b, e);
            return;
        }
        int s;
        while ((s = Interlocked.Add(ref _next, _block) - _block) < _total) _invoke(_job, s, Math.Min(s + _block, _total));
    }

    private static void EnsureWorkers(int needed)
    {
        if (_workers.Length >= needed) return;
        var grown = new Thread[needed];
        Array.Copy(_workers, grown, _workers.Length);
        var assigned = new int[needed];
        Array.Copy(_assigned, assigned, _assigned.Length);
        _assigned = assigned;
        for (int i = _workers.Length; i < needed; i++)
        {
            int part = i + 1, seen = _generation;
            grown[i] = new Thread(() => WorkerLoop(part, seen)) { IsBackground = true, Name = $"dsl-cpu-{part}" };
            grown[i].Start();
        }
        _workers = grown;
    }

    private static void WorkerLoop(int part, int seen)
    {
        t_busy = true;
        // Spin briefly after each job (kernels come in bursts), then sleep so an idle pool costs nothing.
        long spinTicks = Stopwatch.Frequency / 5000;
        while (true)
        {
            long start = Stopwatch.GetTimestamp();
            var spin = new SpinWait(); // yields the core after a few rounds: the dispatcher may be waiting on this one
            while (Volatile.Read(ref _generation) == seen)
            {
                if (Stopwatch.GetTimestamp() - start < spinTicks)
                {
                    spin.SpinOnce(sleep1Threshold: -1);
                    continue;
                }
                lock (SleepLock)
                {
                    Interlocked.Increment(ref _sleepers);
                    while (Volatile.Read(ref _generation) == seen) Monitor.Wait(SleepLock);
                    Interlocked.Decrement(ref _sleepers);
                }
            }
            seen = Volatile.Read(ref _generation);
            // Claimed, the dispatch stays valid until this worker reports back, so its fields are stable here; unclaimed
            // (not this worker's, or run by the dispatcher already), it is not waited for.
            if (Interlocked.CompareExchange(ref _assigned[part - 1], 0, seen) != seen) continue;
            try
            {
                t_slot = part;
                RunShare(part);
            }
            catch (Exception ex)
            {
                Interlocked.CompareExchange(ref _error, ex, null);
            }
            finally
            {
                Interlocked.Decrement(ref _pending);
            }
        }
    }
}
