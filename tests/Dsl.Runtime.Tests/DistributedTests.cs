using Dsl.Compiler;
using Dsl.Core;
using Dsl.Runtime.Cpu;
using Dsl.Runtime.Data;
using Dsl.Runtime.Distributed;
using Xunit;

namespace Dsl.Runtime.Tests;

/// <summary>The parts of data-parallel training that need no second process: sharding, the digest, gradient buckets
/// against a stand-in peer, and what is said when MPI is missing. The MPI group of the CLI tests runs real jobs.</summary>
public class DistributedTests
{
    [Fact]
    public void EachShardIsItsSliceOfTheWholeBatchAugmentedAlike()
    {
        var set = DataSources.Synthetic(3, 1, 8, 8, 40, 1, 5).train;
        var config = Networks.Text("network t\n  input 1 x 6 x 6\n  flatten\n  dense 3\n  softmax\ntrain\n  augment crop 6 from 8, flip horizontal\n").Network.Train!.Value;
        var transform = new Transform(set, 1, 6, 6, config, ([0f], [1f]));
        var order = Enumerable.Range(0, set.Count).Reverse().ToArray();
        const int batch = 8, floats = 36;
        List<(float[] images, int[] labels)> Read(int shards, int shard)
        {
            using var pipe = new BatchPipeline(set, transform, batch, floats, order, dropLast: true, augmentSeed: 77, firstBatch: 1, shards: shards, shard: shard);
            var batches = new List<(float[], int[])>();
            foreach (var b in pipe.Read()) { batches.Add(((float[])b.Images.Clone(), (int[])b.Labels.Clone())); pipe.Release(b); }
            return batches;
        }
        var whole = Read(1, 0);
        Assert.Equal(4, whole.Count);
        for (int shard = 0; shard < 4; shard++)
        {
            var part = Read(4, shard);
            Assert.Equal(whole.Count, part.Count);
            for (int b = 0; b < whole.Count; b++)
            {
                Assert.Equal(whole[b].labels[(shard * 2)..(shard * 2 + 2)], part[b].labels);
                Assert.Equal(whole[b].images[(shard * 2 * floats)..((shard * 2 + 2) * floats)], part[b].images);
            }
        }
    }

    [Fact]
    public void ABatchThatDoesNotSplitEvenlyIsRefusedWithWhatWould()
    {
        var e = Assert.Throws<DistributedException>(() => DataParallel.LocalBatchOf(64, 3));
        Assert.Contains("the batch of 64 does not split evenly over 3 processes", e.Message);
        Assert.Contains("--batch", e.Message);
        Assert.Contains("2 or 4 or 8", e.Message);
        Assert.Equal(32, DataParallel.LocalBatchOf(64, 2));
    }

    [Fact]
    public void TheDigestChangesWhenAnyOneValueChangesByOneBit()
    {
        var values = Enumerable.Range(0, 1000).Select(i => MathF.Sin(i)).ToArray();
        ulong digest = WeightsDigest.Of(values);
        for (int i = 0; i < values.Length; i++)
        {
            var changed = (float[])values.Clone();
            changed[i] = BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(changed[i]) ^ 1);
            Assert.NotEqual(digest, WeightsDigest.Of(changed));
        }
        Assert.Equal(digest, WeightsDigest.Of((float[])values.Clone()));
        // Two values swapped are a different network too.
        (values[3], values[4]) = (values[4], values[3]);
        Assert.NotEqual(digest, WeightsDigest.Of(values));
    }

    [Fact]
    public void TheProcessesThatDriftedAreThoseUnlikeProcessZero()
    {
        Assert.Equal([2], WeightsDigest.Drifted([5UL, 5UL, 6UL, 5UL]));
        Assert.Equal([1, 2], WeightsDigest.Drifted([5UL, 6UL, 6UL]));
        Assert.Empty(WeightsDigest.Drifted([5UL]));
    }

    /// <summary>A world of two whose other process holds <see cref="Peer"/> in every gradient.</summary>
    sealed class StandInPeer : Communicator
    {
        public const float Peer = 0.5f;
        public readonly List<int> Sent = new();
        public override int Rank => 0;
        public override int Size => 2;
        public override string Host => "here";
        public override void Sum(Span<float> values) { Sent.Add(values.Length); foreach (ref var v in values) v += Peer; }
        public override void Sum(Span<double> values) => throw new NotSupportedException();
        public override ulong[] Gather(ulong value) => throw new NotSupportedException();
        public override void Broadcast(Span<byte> values) => throw new NotSupportedException();
        public override void Barrier() { }
        public override void Finish() { }
    }

    [Fact]
    public void BucketsAverageEveryGradientOnceWithTensorsSplitAcrossThem()
    {
        var network = Networks.Text("network t\n  input 1 x 6 x 6\n  conv 2 kernel 3 |> relu\n  flatten\n  dense 3\n  softmax\n");
        using var device = new CpuDevice(1);
        var plan = MemoryPlan.compile(PlanMode.Training, 2, network);
        using var parameters = new ParameterSet(device, plan, 1);
        var own = new Dictionary<string, float[]>();
        foreach (var name in parameters.Trainable.Select(n => n + ".grad"))
        {
            var g = Enumerable.Range(0, (int)parameters[name].Floats).Select(i => (float)(i % 7) - name.Length).ToArray();
            parameters.Write(name, g);
            own[name] = g;
        }
        var peer = new StandInPeer();
        // 7 values a bucket: conv (18 + 2), dense (3 x 32 + 3) are cut across buckets.
        var buckets = new GradientBuckets(peer, parameters, bucketFloats: 7);
        long total = own.Values.Sum(g => (long)g.Length);
        Assert.Equal(total, buckets.Floats);
        Assert.Equal((int)((total + 6) / 7), buckets.Buckets);
        buckets.Average();
        Assert.Equal(total, peer.Sent.Sum());
        Assert.All(peer.Sent, n => Assert.True(n <= 7));
        foreach (var (name, g) in own)
            Assert.Equal(g.Select(v => (v + StandInPeer.Peer) / 2), parameters.Read(name));
    }

    [Fact]
    public void WithoutMpirunARunIsAWorldOfOne()
    {
        var comm = Communicator.Join(_ => null);
        Assert.Equal((0, 1), (comm.Rank, comm.Size));
    }

    [Fact]
    public void UnderMpirunWithoutOpenMpiTheMessageSaysWhatToInstall()
    {
        var env = new Dictionary<string, string> { ["OMPI_COMM_WORLD_SIZE"] = "2" };
        var e = Assert.Throws<DistributedException>(() => Communicator.Join(env.GetValueOrDefault, "libmpi-not-installed.so.40"));
        Assert.Contains("started by mpirun (OMPI_COMM_WORLD_SIZE=2)", e.Message);
        Assert.Contains("libmpi-not-installed.so.40 cannot be loaded", e.Message);
        Assert.Contains("sudo apt-get install libopenmpi3 openmpi-bin", e.Message);
    }
}
