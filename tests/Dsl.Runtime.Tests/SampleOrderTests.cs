using Dsl.Runtime.Data;
using Xunit;
using Order = Dsl.Core.SampleOrder;

namespace Dsl.Runtime.Tests;

public class SampleOrderTests
{
    static readonly ImageSet Set = DataSources.Synthetic(5, 1, 8, 8, 300, 10, 2).train;

    static int Changes(IEnumerable<int> keys) => keys.Zip(keys.Skip(1)).Count(p => p.First != p.Second);

    [Fact]
    public void EveryOrderVisitsEveryImageOnceAndRepeatsForASeed()
    {
        foreach (var kind in new[] { Order.Shuffle, Order.ByClass, Order.BySimilarity, Order.Hybrid })
        {
            var a = new Data.SampleOrder(Set, kind, 7).For(3);
            Assert.Equal(Enumerable.Range(0, Set.Count), a.Order());
            Assert.Equal(a, new Data.SampleOrder(Set, kind, 7).For(3));
            Assert.NotEqual(a, new Data.SampleOrder(Set, kind, 7).For(4));
        }
    }

    [Fact]
    public void ByClassGroupsTheClasses()
    {
        var order = new Data.SampleOrder(Set, Order.ByClass, 1).For(1);
        Assert.Equal(4, Changes(order.Select(i => Set.Labels[i])));
    }

    [Fact]
    public void HybridKeepsClassesTogetherAndSimilarityNeighboursAlike()
    {
        var hybrid = new Data.SampleOrder(Set, Order.Hybrid, 1).For(1);
        Assert.Equal(4, Changes(hybrid.Select(i => Set.Labels[i])));
        // Synthetic classes are distinct patterns: similar histograms mostly share a class, so neighbours agree far
        // more often than in a shuffle.
        int Agree(int[] o) => o.Zip(o.Skip(1)).Count(p => Set.Labels[p.First] == Set.Labels[p.Second]);
        var similar = new Data.SampleOrder(Set, Order.BySimilarity, 1).For(1);
        var shuffled = new Data.SampleOrder(Set, Order.Shuffle, 1).For(1);
        Assert.True(Agree(similar) > Agree(shuffled), $"{Agree(similar)} alike neighbours by similarity, {Agree(shuffled)} shuffled");
    }
}
