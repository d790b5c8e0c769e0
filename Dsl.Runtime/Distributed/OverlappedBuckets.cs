using Dsl.Compiler;
using Dsl.Core;

namespace Dsl.Runtime.Distributed;

/// <summary>Averages each bucket of <see cref="GradientBuckets"/> on a <see cref="CommThread"/> as soon as the backward
/// pass has written every gradient in it, while the backward pass goes on with earlier layers (PyTorch DDP's overlap); the
/// buckets are posted in the order the kernels finish them, the same on every process. <see cref="Average"/> waits for
/// all of them before the optimiser step. A gradient is final after the last kernel of the step that touches it (so a
/// gradient several kernels accumulate into waits for the last of them, and batch norm's dgamma and dbeta for their
/// backward kernel), and nothing else writes a gradient before the optimiser, which applies weight decay to the averaged
/// gradient: the allreduce reads whole gradients and nothing changes them under it. Each bucket's allreduce is the one
/// <see cref="GradientBuckets.Average()"/> makes, on the same values, so the weights are the same bit for bit. For the
/// CPU device, whose kernels have finished when they return.</summary>
public sealed class OverlappedBuckets : IGradientAverager
{
    readonly GradientBuckets buckets;
    readonly CommThread thread;
    /// <summary>By kernel index: the buckets whose last gradient that kernel finishes.</summary>
    readonly int[][] readyAfter;
    readonly Action[] averageBucket;
    readonly bool[] posted;
    volatile bool backwardEnded;
    long startedEarly, busyTicks, waitedTicks, averages;

    public OverlappedBuckets(GradientBuckets buckets, Plan plan)
    {
        this.buckets = buckets;
        var kernels = plan.Kernels.ToArray();
        var last = new Dictionary<string, int>();
        for (int i = 0; i < kernels.Length; i++)
            foreach (var id in MemoryPlan.touches(kernels[i]))
                if (plan.Buffers[id].Kind.IsParameterGrad) last[plan.Buffers[id].Name] = i;
        var ready = Enumerable.Range(0, kernels.Length).Select(_ => new List<int>()).ToArray();
        for (int b = 0; b < buckets.Buckets; b++)
        {
            // A bucket holding a gradient no kernel writes is posted when the backward pass ends.
            int after = buckets.Layout[b].Select(p => last.GetValueOrDefault(p.Name, int.MaxValue)).Max();
            if (after < kernels.Length) ready[after].Add(b);
        }
        readyAfter = ready.Select(r => r.ToArray()).ToArray();
        averageBucket = Enumerable.Range(0, buckets.Buckets).Select(b => (Action)(() => AverageBucket(b))).ToArray();
        posted = new bool[buckets.Buckets];
        thread = new CommThread();
    }

    public string Route => "through host memory over MPI, each as the backward pass finishes its gradients (overlapped)";

    /// <summary>Bucket allreduces that started while the backward pass was still running, over the steps after the first.</summary>
    public long StartedEarly => Interlocked.Read(ref startedEarly);
    /// <summary>Seconds the allreduces took on their thread (waits for the slowest process included), steps after the first.</summary>
    public double BusySeconds => Interlocked.Read(ref busyTicks) / (double)System.Diagnostics.Stopwatch.Frequency;
    /// <summary>Seconds the step waited for them after its backward pass, steps after the first: the part not hidden.</summary>
    public double WaitedSeconds => waitedTicks / (double)System.Diagnostics.Stopwatch.Frequency;

    /// <summary>Called by the step runner after kernel <paramref name="kernel"/> has finished.</summary>
    public void KernelDone(int kernel)
    {
        // After the last kernel nothing runs beside the allreduces: those that start from here on hide nothing.
        if (kernel == readyAfter.Length - 1) backwardEnded = true;
        foreach (var b in readyAfter[kernel]) Post(b);
    }

    void Post(int bucket)
    {
        posted[bucket] = true;
        thread.Post(averageBucket[bucket]);
    }

    void AverageBucket(int bucket)
    {
        if (!backwardEnded) Interlocked.Increment(ref startedEarly);
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        buckets.Average(bucket);
        Interlocked.Add(ref busyTicks, System.Diagnostics.Stopwatch.GetTimestamp() - started);
    }

    /// <summary>After the backward pass: posts any bucket not yet posted and waits for every one.</summary>
    public void Average()
    {
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        for (int b = 0; b < posted.Length; b++)
            if (!posted[b]) Post(b);
        thread.WaitIdle();
        waitedTicks += System.Diagnostics.Stopwatch.GetTimestamp() - started;
        Array.Clear(posted);
        backwardEnded = false;
        // The first step waits for the slowest process to start (JIT, data loading): not a cost of averaging.
        if (averages++ == 0) startedEarly = busyTicks = waitedTicks = 0;
    }

    /// <summary>Lets the calling thread make a collective of its own during the backward pass (synchronised batch
    /// norm) once the buckets posted before it have been averaged, keeping the order every process follows.</summary>
    public CommThread.Lease Turn() => thread.Turn();

    public void Dispose() => thread.Dispose();
}
