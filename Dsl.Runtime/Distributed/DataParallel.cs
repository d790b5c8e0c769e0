using Dsl.Runtime.Data;

namespace Dsl.Runtime.Distributed;

/// <summary>What a trainer does differently when its job has several processes (data parallelism, as PyTorch DDP and
/// Horovod do it): each process runs the same network on its shard of every global batch, the gradients are averaged
/// before each optimiser step, so every process takes the same step and the weights stay identical, which a digest checks
/// every <see cref="DigestEvery"/> steps. Batch-norm layers keep per-process batch statistics (DDP's default); their running
/// statistics are averaged over the processes before every evaluation and checkpoint. With one process every call is
/// the single-process behaviour.</summary>
public sealed class DataParallel : IDisposable
{
    public const int DigestEvery = 50;

    readonly ParameterSet parameters;
    readonly GradientBuckets gradients;
    IGradientAverager averager;
    readonly double[] scalars = new double[2], flag = new double[1];
    readonly System.Diagnostics.Stopwatch averaging = new();
    /// <summary>The last steps' wall times, Step to Step, in ms: their median is a step's time without the validation
    /// passes and epoch ends some of them span.</summary>
    readonly double[] stepMs = new double[256];
    long lastStep;
    readonly AllreduceSettings settings;
    long steps;

    public DataParallel(Communicator comm, ParameterSet parameters, int globalBatch, AllreduceSettings? settings = null)
    {
        Communicator = comm;
        this.parameters = parameters;
        this.settings = settings ?? AllreduceSettings.Default;
        LocalBatch = LocalBatchOf(globalBatch, comm.Size);
        gradients = new GradientBuckets(comm, parameters, this.settings.BucketFloats);
        averager = gradients;
    }

    /// <summary>The images of a global batch each of <paramref name="processes"/> computes; they must share it evenly.</summary>
    public static int LocalBatchOf(int globalBatch, int processes) => globalBatch % processes == 0 ? globalBatch / processes
        : throw new DistributedException($"the batch of {globalBatch} does not split evenly over {processes} processes; " +
            $"give a batch that is a multiple of {processes} (--batch), or run {Divisors(globalBatch)} processes");

    static string Divisors(int batch) => string.Join(" or ", Enumerable.Range(2, 7).Where(n => batch % n == 0).DefaultIfEmpty(1));

    public Communicator Communicator { get; }
    /// <summary>The images each process computes per step.</summary>
    public int LocalBatch { get; }
    /// <summary>Process 0 alone writes the run folder.</summary>
    public bool Writes => Communicator.Rank == 0;
    /// <summary>Gradient bytes each process contributes to the allreduce per step.</summary>
    public long GradientBytes => gradients.Floats * sizeof(float);
    public int Buckets => gradients.Buckets;

    /// <summary>What the job moves and what it cost: a line for the run's log, null for one process.</summary>
    public string? Describe() => Communicator.Size == 1 ? null
        : $"{Communicator.Size} processes: {GradientBytes / 1e6:F1} MB of gradients averaged per step in {Buckets} allreduce buckets {averager.Route}" +
          (steps < 2 ? "" : $"; {averaging.Elapsed.TotalMilliseconds / (steps - 1):F1} ms per step spent averaging (waits for the slowest process included) over {steps - 1} steps after the first, " +
            $"a step taking {MedianStepMs():F0} ms (median)" +
            (averager is OverlappedBuckets o ? $"; the allreduces took {o.BusySeconds * 1e3 / (steps - 1):F1} ms per step on their thread, " +
                $"{Math.Max(0, o.BusySeconds - o.WaitedSeconds) * 1e3 / (steps - 1):F1} ms of it hidden behind the backward pass " +
                $"({o.StartedEarly / (double)(steps - 1):F1} of {Buckets} buckets a step started before it ended)" : ""));

    double MedianStepMs()
    {
        var last = stepMs.Take((int)Math.Min(steps - 1, stepMs.Length)).Order().ToArray();
        return last[last.Length / 2];
    }

    /// <summary>Makes the step runner compute this process's shard as the single-process step would: its dropout masks
    /// are those of the shard's positions in the global batch. On CUDA the gradients are averaged by NCCL where every
    /// process has it; on any other GPU, or without NCCL, through host memory, which <paramref name="log"/> hears as a warning.
    /// With <paramref name="syncBatchNorm"/> the batch norms take their statistics over the whole global batch (CPU only).
    /// On the CPU device each bucket is averaged while the backward pass goes on (<see cref="OverlappedBuckets"/>) unless
    /// the settings say not to or MPI's thread level does not allow it, which <paramref name="log"/> hears.</summary>
    public void Attach(IStepRunner train, IDevice device, Action<string>? log, bool syncBatchNorm = false)
    {
        if (Communicator.Size == 1) return;
        train.FirstSample = (long)Communicator.Rank * LocalBatch;
        var cpu = train as Cpu.CpuStepRunner;
        if (cpu is not null && settings.Overlap)
        {
            if (Communicator.ThreadLimit is { } limit)
                log?.Invoke($"the gradient allreduce is not overlapped with the backward pass: {limit}; each bucket is averaged after it");
            else
            {
                var overlapped = new OverlappedBuckets(gradients, cpu.Plan);
                cpu.KernelDone = overlapped.KernelDone;
                averager = overlapped;
            }
        }
        if (syncBatchNorm)
            (cpu ?? throw new DistributedException(
                $"--sync-batchnorm runs on the CPU device; synchronised batch norm is not built for {device.Name}: leave --sync-batchnorm out " +
                "(each process then normalises over its own shard), or train with --device cpu")).SyncBatchNorm =
                (Communicator.Size, averager is OverlappedBuckets ? SumInTurn : Communicator.Sum);
        if (device is Cpu.CpuDevice) return;
        string? problem = null;
        if (device is Cuda.CudaDevice cuda && NcclGradients.Open(Communicator, cuda, parameters, gradients, out problem) is { } nccl)
        {
            averager = nccl;
            return;
        }
        log?.Invoke($"warning: the gradients are averaged through host memory (each step downloads them from {device.Name}, sums them over MPI and uploads them): " +
            (problem is null ? "NCCL averages on CUDA devices only" : $"NCCL is absent: {problem}"));
    }

    /// <summary>After a step's backward pass: averages the gradients, and returns the global batch's mean loss and its
    /// correct predictions, so every process decides the same.</summary>
    public (double Loss, long Correct) Step(double loss, long correct)
    {
        if (Communicator.Size == 1) return (loss, correct);
        // The first step waits for the slowest process to start (JIT, data loading): not a cost of averaging.
        if (steps > 0) averaging.Start();
        averager.Average();
        scalars[0] = loss;
        scalars[1] = correct;
        Communicator.Sum(scalars);
        averaging.Stop();
        long now = System.Diagnostics.Stopwatch.GetTimestamp();
        if (steps > 0) stepMs[(steps - 1) % stepMs.Length] = (now - lastStep) * 1e3 / System.Diagnostics.Stopwatch.Frequency;
        lastStep = now;
        steps++;
        return (scalars[0] / Communicator.Size, (long)scalars[1]);
    }

    /// <summary>A sum made during the backward pass while buckets may be on the allreduce thread: after them, in the same
    /// order on every process.</summary>
    void SumInTurn(Span<double> values)
    {
        using (((OverlappedBuckets)averager).Turn()) Communicator.Sum(values);
    }

    public void Dispose() => averager.Dispose();

    /// <summary>Whether any process was asked to stop (Ctrl-C, SIGTERM), so that all stop after the same step. Every process
    /// must ask after every step.</summary>
    public bool AnyOf(bool requested)
    {
        if (Communicator.Size == 1) return requested;
        flag[0] = requested ? 1 : 0;
        Communicator.Sum(flag);
        return flag[0] > 0;
    }

    /// <summary>Checks that every process holds the same weights and optimiser state, after update <paramref name="t"/>
    /// every <see cref="DigestEvery"/> steps, and always when <paramref name="now"/> (after initialising, resuming, at an epoch's end).</summary>
    public void CheckSame(long t, string when, bool now = false)
    {
        if (Communicator.Size == 1 || (!now && t % DigestEvery != 0)) return;
        var names = parameters.Trainable.SelectMany(n => ParameterSet.OptimizerSlots.Select(s => n + s).Where(parameters.Contains).Prepend(n));
        var digests = Communicator.Gather(WeightsDigest.Of(parameters, names));
        if (WeightsDigest.Drifted(digests) is { Count: > 0 } drifted)
            throw new DistributedException($"the weights of {string.Join(", ", drifted.Select(Communicator.Describe))} differ from process 0's {when}: " +
                "the processes no longer train one network (a nondeterministic kernel or a faulty machine); stopped. " +
                "The run folder's last checkpoint is intact: `--resume` continues from it");
    }

    /// <summary>Averages the batch-norm running statistics over the processes (each gathered them from its own shards).</summary>
    public void AverageRunningStatistics()
    {
        if (Communicator.Size == 1) return;
        foreach (var name in parameters.Weights.Except(parameters.Trainable))
        {
            var values = parameters.Read(name);
            Communicator.Sum(values);
            System.Numerics.Tensors.TensorPrimitives.Multiply(values, 1f / Communicator.Size, values);
            parameters.Write(name, values);
        }
    }

    /// <summary>Evaluates a set split over the processes, each its contiguous share, and reduces the sums: every process
    /// returns the whole set's loss, accuracies and confusion matrix.</summary>
    public Evaluation Evaluate(ImageSet set, int classes, Func<ImageSet, Evaluation> evaluate)
    {
        int size = Communicator.Size, rank = Communicator.Rank;
        if (size == 1) return evaluate(set);
        int from = (int)((long)set.Count * rank / size), to = (int)((long)set.Count * (rank + 1) / size);
        var part = to > from ? evaluate(set.Subset(Enumerable.Range(from, to - from).ToArray())) : null;
        var sums = new double[5 + classes * classes];
        if (part is not null)
        {
            sums[0] = part.Loss * part.Count;
            sums[1] = part.Accuracy * part.Count;
            sums[2] = part.Top5 * part.Count;
            sums[3] = part.Count;
            sums[4] = part.NotFinite;
            for (int i = 0; i < classes; i++)
                for (int j = 0; j < classes; j++) sums[5 + i * classes + j] = part.Confusion[i, j];
        }
        Communicator.Sum(sums);
        var confusion = new int[classes, classes];
        for (int i = 0; i < classes; i++)
            for (int j = 0; j < classes; j++) confusion[i, j] = (int)sums[5 + i * classes + j];
        double n = sums[3];
        return new Evaluation(sums[0] / n, Math.Round(sums[1]) / n, Math.Round(sums[2]) / n, (int)n, confusion) { NotFinite = (int)sums[4] };
    }
}
