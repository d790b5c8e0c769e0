using Dsl.Core;

namespace Dsl.Runtime.Data;

/// <summary>The order a training set is visited in each epoch, as the image-sorting literature offers it:
/// shuffle; by class; by feature similarity (colour histograms clustered with k-means, clusters chained so that
/// neighbours are alike); and hybrid (class first, then similarity within each class). Whether any of these helps is
/// measured in docs/experiments/sample-order.md, not assumed. Every order is a function of (seed, epoch) alone.</summary>
public sealed class SampleOrder
{
    const int Clusters = 16, Bins = 16, Iterations = 10;
    readonly ImageSet set;
    readonly Dsl.Core.SampleOrder kind;
    readonly int seed;
    readonly int[] cluster = [];      // per image, its cluster's rank along the chain

    public SampleOrder(ImageSet set, Dsl.Core.SampleOrder kind, int seed)
    {
        (this.set, this.kind, this.seed) = (set, kind, seed);
        if (kind.IsBySimilarity || kind.IsHybrid) cluster = ChainedClusters(Histograms(set), seed);
    }

    /// <summary>The images of epoch <paramref name="epoch"/> in order. Within a class or cluster, the order is shuffled
    /// per epoch, so only the grouping is fixed.</summary>
    public int[] For(int epoch)
    {
        var order = Enumerable.Range(0, set.Count).ToArray();
        new Random(Seeds.Int(seed, epoch)).Shuffle(order);
        // A stable sort of the shuffled order keeps the shuffle inside each group.
        return kind switch
        {
            { IsByClass: true } => order.OrderBy(i => set.Labels[i]).ToArray(),
            { IsBySimilarity: true } => order.OrderBy(i => cluster[i]).ToArray(),
            { IsHybrid: true } => order.OrderBy(i => set.Labels[i]).ThenBy(i => cluster[i]).ToArray(),
            _ => order,
        };
    }

    /// <summary>Per image, a normalised histogram of 16 intensity bins for each channel.</summary>
    static float[][] Histograms(ImageSet set)
    {
        int plane = set.Height * set.Width;
        var result = new float[set.Count][];
        Parallel.For(0, set.Count, i =>
        {
            var h = new float[set.Channels * Bins];
            var image = set.Image(i);
            for (int c = 0; c < set.Channels; c++)
                foreach (var b in image.Slice(c * plane, plane)) h[c * Bins + b * Bins / 256] += 1f / plane;
            result[i] = h;
        });
        return result;
    }

    static float Distance(float[] a, float[] b)
    {
        float d = 0;
        for (int k = 0; k < a.Length; k++) d += (a[k] - b[k]) * (a[k] - b[k]);
        return d;
    }

    /// <summary>k-means (seeded, fixed iterations), then the clusters ordered greedily by nearest centroid from
    /// cluster 0, so that consecutive clusters look alike; returns each image's cluster rank in that chain.</summary>
    static int[] ChainedClusters(float[][] features, int seed)
    {
        var rng = new Random(Seeds.Int(seed, 0xC1));
        int k = Math.Min(Clusters, features.Length);
        var centroids = Enumerable.Range(0, k).Select(_ => (float[])features[rng.Next(features.Length)].Clone()).ToArray();
        var assigned = new int[features.Length];
        for (int it = 0; it < Iterations; it++)
        {
            Parallel.For(0, features.Length, i =>
            {
                int best = 0;
                for (int c = 1; c < k; c++) if (Distance(features[i], centroids[c]) < Distance(features[i], centroids[best])) best = c;
                assigned[i] = best;
            });
            var sums = new float[k][];
            var counts = new int[k];
            for (int c = 0; c < k; c++) sums[c] = new float[features[0].Length];
            for (int i = 0; i < features.Length; i++)
            {
                counts[assigned[i]]++;
                for (int d = 0; d < sums[0].Length; d++) sums[assigned[i]][d] += features[i][d];
            }
            for (int c = 0; c < k; c++)
                if (counts[c] > 0) centroids[c] = sums[c].Select(v => v / counts[c]).ToArray();
        }
        var rank = new int[k];
        var done = new bool[k];
        int current = 0;
        for (int r = 0; r < k; r++)
        {
            rank[current] = r;
            done[current] = true;
            int next = -1;
            for (int c = 0; c < k; c++)
                if (!done[c] && (next < 0 || Distance(centroids[current], centroids[c]) < Distance(centroids[current], centroids[next]))) next = c;
            if (next < 0) break;
            current = next;
        }
        return assigned.Select(c => rank[c]).ToArray();
    }
}
