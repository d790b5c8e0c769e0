using Dsl.Runtime.Data;

namespace Dsl.Runtime;

/// <summary>Loss, accuracies and the confusion matrix of an inference plan over a whole set.</summary>
public static class Evaluator
{
    /// <summary>How many of the first <paramref name="count"/> rows have their label among the k most probable classes
    /// (ties count against: a label is in the top k only if fewer than k classes are more probable). A row holding NaN
    /// is a miss: every comparison with NaN is false, which would otherwise make it a hit.</summary>
    public static long TopK(ReadOnlySpan<float> probs, int count, int classes, ReadOnlySpan<int> labels, int k)
    {
        long hits = 0;
        for (int i = 0; i < count; i++)
        {
            var row = probs.Slice(i * classes, classes);
            if (!IsFinite(row)) continue;
            float p = row[labels[i]];
            int greater = 0;
            foreach (var q in row) if (q > p) greater++;
            if (greater < k) hits++;
        }
        return hits;
    }

    static bool IsFinite(ReadOnlySpan<float> row)
    {
        foreach (var q in row) if (!float.IsFinite(q)) return false;
        return true;
    }

    /// <summary>Runs <paramref name="runner"/> (an inference plan) over every image of <paramref name="set"/>;
    /// <paramref name="done"/> hears after each batch how many images are done, of how many.</summary>
    public static Evaluation Run(IStepRunner runner, ImageSet set, Transform transform, Action<int, int>? done = null,
        CancellationToken cancel = default)
    {
        int n = runner.Plan.Batch, classes = runner.Plan.Classes;
        int imageFloats = (int)(runner.Plan.Buffers[runner.Plan.Images].Floats / n);
        var probs = new float[n * classes];
        var confusion = new int[classes, classes];
        double loss = 0;
        long top1 = 0, top5 = 0;
        int finished = 0;
        int notFinite = 0;
        using var pipe = new BatchPipeline(set, transform, n, imageFloats, Enumerable.Range(0, set.Count).ToArray(), dropLast: false, augmentSeed: null);
        foreach (var b in pipe.Read())
        {
            // A signal stops a long test pass between batches (OperationCanceledException), not after the whole set.
            cancel.ThrowIfCancellationRequested();
            runner.SetBatch(b.Images, b.Labels);
            runner.Run(0);
            runner.ReadProbabilities(probs);
            for (int i = 0; i < b.Count; i++)
            {
                var row = probs.AsSpan(i * classes, classes);
                // NaN makes the loss NaN, as it should; such a row predicts nothing, so it stays out of the confusion matrix.
                loss -= Math.Log(Math.Max(row[b.Labels[i]], 1e-30f));
                if (IsFinite(row)) confusion[b.Labels[i], System.Numerics.Tensors.TensorPrimitives.IndexOfMax(row)]++;
                else notFinite++;
            }
            top1 += TopK(probs, b.Count, classes, b.Labels, 1);
            top5 += TopK(probs, b.Count, classes, b.Labels, Math.Min(5, classes));
            pipe.Release(b);
            done?.Invoke(finished += b.Count, set.Count);
        }
        return new Evaluation(loss / set.Count, (double)top1 / set.Count, (double)top5 / set.Count, set.Count, confusion) { NotFinite = notFinite };
    }
}
