namespace Dsl.Runtime.Distributed;

/// <summary>Averages the gradients of every trainable tensor over the processes: the tensors, last layer first (the order
/// a backward pass finishes them), are packed into buckets of at most <see cref="BucketFloats"/> values, each bucket summed
/// with one allreduce and scaled by 1/processes. Buckets keep each message large (latency paid per bucket, not per tensor)
/// and the host copy bounded (a tensor larger than a bucket travels in pieces). 25 MB is PyTorch DDP's bucket_cap_mb
/// (<see cref="AllreduceSettings"/> sets another). This averages through host memory (download, MPI_Allreduce, upload),
/// which works for every device, after the backward pass or bucket by bucket during it (<see cref="OverlappedBuckets"/>);
/// NCCL averages the same buckets on a GPU.</summary>
public sealed class GradientBuckets : IGradientAverager
{
    public const int BucketFloats = 25 * 1000 * 1000 / sizeof(float);

    readonly Communicator comm;
    readonly ParameterSet parameters;
    readonly List<List<(string Name, long Offset, int Count)>> buckets = new();
    readonly float[] host;

    public GradientBuckets(Communicator comm, ParameterSet parameters, int bucketFloats = BucketFloats)
    {
        this.comm = comm;
        this.parameters = parameters;
        var bucket = new List<(string, long, int)>();
        int filled = 0;
        foreach (var name in parameters.Trainable.Reverse().Select(n => n + ".grad"))
            for (long offset = 0, floats = parameters[name].Floats; offset < floats;)
            {
                int count = (int)Math.Min(floats - offset, bucketFloats - filled);
                bucket.Add((name, offset, count));
                offset += count;
                filled += count;
                if (filled == bucketFloats) { buckets.Add(bucket); bucket = new(); filled = 0; }
            }
        if (bucket.Count > 0) buckets.Add(bucket);
        Floats = buckets.Sum(b => b.Sum(s => (long)s.Count));
        host = new float[buckets.Count == 0 ? 0 : buckets.Max(b => b.Sum(s => s.Count))];
    }

    /// <summary>Gradient values each process contributes per step (4 bytes each).</summary>
    public long Floats { get; }
    public int Buckets => buckets.Count;
    /// <summary>Each bucket's pieces: a gradient tensor's name, where the piece starts in it, and its floats.</summary>
    public IReadOnlyList<IReadOnlyList<(string Name, long Offset, int Count)>> Layout => buckets;
    public string Route => "through host memory over MPI";

    /// <summary>Replaces every gradient by its mean over the processes.</summary>
    public void Average()
    {
        for (int b = 0; b < buckets.Count; b++) Average(b);
    }

    /// <summary>Replaces the gradients of bucket <paramref name="index"/> by their mean over the processes: one
    /// allreduce. Every process must average the same buckets in the same order.</summary>
    public void Average(int index)
    {
        if (comm.Size == 1) return;
        var bucket = buckets[index];
        int at = 0;
        foreach (var (name, offset, count) in bucket) { parameters[name].Download(host.AsSpan(at, count), offset); at += count; }
        var span = host.AsSpan(0, at);
        comm.Sum(span);
        System.Numerics.Tensors.TensorPrimitives.Multiply(span, 1f / comm.Size, span);
        at = 0;
        foreach (var (name, offset, count) in bucket) { parameters[name].Upload(host.AsSpan(at, count), offset); at += count; }
    }

    public void Dispose() { }
}
