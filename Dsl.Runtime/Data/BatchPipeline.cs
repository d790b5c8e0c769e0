using System.Collections.Concurrent;

namespace Dsl.Runtime.Data;

/// <summary>A batch on the host: images as the network takes them, labels, and how many are real
/// (the last batch of an evaluation is padded to the plan's fixed size).</summary>
public sealed class Batch(int size, int imageFloats)
{
    public float[] Images { get; } = new float[(long)size * imageFloats];
    public int[] Labels { get; } = new int[size];
    public int Count { get; internal set; }
}

/// <summary>Prepares batches on a background thread while the device computes the previous one.
/// Three preallocated batches circulate: nothing is allocated per step.</summary>
public sealed class BatchPipeline : IDisposable
{
    readonly BlockingCollection<Batch> free = new(), ready = new();
    readonly Thread worker;
    readonly CancellationTokenSource stop = new();
    Exception? failure;

    /// <summary>Starts preparing the images of <paramref name="order"/>, in that order, from batch <paramref name="firstBatch"/>
    /// (resuming an epoch); <paramref name="augmentSeed"/> seeds random crops and flips, null for evaluation (centre crops).
    /// With <paramref name="shards"/> &gt; 1 (a data-parallel job) each batch of <paramref name="batchSize"/> is cut in that many
    /// equal shards and only shard <paramref name="shard"/> is prepared, augmented as it would be in the whole batch.</summary>
    public BatchPipeline(ImageSet set, Transform transform, int batchSize, int imageFloats, IReadOnlyList<int> order, bool dropLast, ulong? augmentSeed,
        int firstBatch = 0, int shards = 1, int shard = 0)
    {
        if (shards > 1 && (!dropLast || batchSize % shards != 0)) throw new ArgumentException("shards split whole batches only: dropLast, and a batch that divides evenly");
        int size = batchSize / shards;
        for (int i = 0; i < 3; i++) free.Add(new Batch(size, imageFloats));
        int batches = dropLast ? order.Count / batchSize : (order.Count + batchSize - 1) / batchSize;
        Batches = batches;
        worker = new Thread(() =>
        {
            try
            {
                for (int b = firstBatch; b < batches; b++)
                {
                    var batch = free.Take(stop.Token);
                    int start = b * batchSize + shard * size;
                    batch.Count = Math.Min(size, order.Count - start);
                    for (int i = 0; i < size; i++)
                    {
                        // Padding repeats the last image; its results are ignored.
                        int idx = order[start + Math.Min(i, batch.Count - 1)];
                        ulong? r = augmentSeed is ulong s ? Mix(s, (ulong)(start + i)) : null;
                        transform.Apply(set.Image(idx), batch.Images.AsSpan(i * imageFloats, imageFloats), r);
                        batch.Labels[i] = set.Labels[idx];
                    }
                    ready.Add(batch);
                }
            }
            catch (OperationCanceledException) { }
            catch (Exception e) { failure = e; }
            finally { ready.CompleteAdding(); }
        }) { IsBackground = true, Name = "batch pipeline", Priority = ThreadPriority.BelowNormal };
        worker.Start();
    }

    public int Batches { get; }

    static ulong Mix(ulong a, ulong b)
    {
        ulong z = a * 0x9E3779B97F4A7C15UL + b + 0x632BE59BD9B4E019UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>The batches in order; hand each back with <see cref="Release"/> once the device has it.</summary>
    public IEnumerable<Batch> Read()
    {
        foreach (var b in ready.GetConsumingEnumerable())
            yield return b;
        if (failure is not null) throw new DataException($"preparing a batch failed: {failure.Message}", failure);
    }

    public void Release(Batch b) => free.Add(b);

    public void Dispose()
    {
        stop.Cancel();
        worker.Join();
        free.Dispose();
        ready.Dispose();
        stop.Dispose();
    }
}
