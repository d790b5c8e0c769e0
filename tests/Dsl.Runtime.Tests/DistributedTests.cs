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

    /// <summary>A world of two whose other process holds <see cref="StandInPeer.Peer"/> in every gradient; each sum of
    /// floats (a bucket) is counted on <see cref="Started"/> as it begins.</summary>
    sealed class CountingPeer(string? threadLimit = null) : Communicator
    {
        public readonly SemaphoreSlim Started = new(0);
        public override string? ThreadLimit => threadLimit;
        public override int Rank => 0;
        public override int Size => 2;
        public override string Host => "here";
        public override void Sum(Span<float> values) { Started.Release(); foreach (ref var v in values) v += StandInPeer.Peer; }
        public override void Sum(Span<double> values) { }
        public override ulong[] Gather(ulong value) => [value, value];
        public override void Broadcast(Span<byte> values) { }
        public override void Barrier() { }
        public override void Finish() { }
    }

    const string TwoLayers = "network t\n  input 1 x 8 x 8\n  conv 4 kernel 3 |> relu\n  flatten\n  dense 16 |> relu\n  dense 3\n  softmax\n";

    /// <summary>One training step of <see cref="TwoLayers"/> on a world of two, its gradients averaged in buckets of 50
    /// values, overlapped or not; returns the averaged gradients. <paramref name="duringBackward"/> runs after the
    /// second-to-last kernel, while the backward pass has one kernel left.</summary>
    static Dictionary<string, float[]> AveragedStep(bool overlap, Action<CountingPeer>? duringBackward = null)
    {
        var network = Networks.Text(TwoLayers);
        using var device = new CpuDevice(1);
        var plan = MemoryPlan.compile(PlanMode.Training, 4, network);
        using var parameters = new ParameterSet(device, plan, 1);
        using var runner = (CpuStepRunner)device.Load(plan, parameters);
        var peer = new CountingPeer();
        using var sync = new DataParallel(peer, parameters, 8, new AllreduceSettings(50, overlap));
        sync.Attach(runner, device, log: null);
        Assert.Equal(overlap, runner.KernelDone is not null);
        if (duringBackward is not null)
        {
            var posting = runner.KernelDone!;
            int last = plan.Kernels.Length - 1;
            runner.KernelDone = i => { posting(i); if (i == last - 1) duringBackward(peer); };
        }
        var (images, labels) = Networks.RandomBatch(plan, 3);
        runner.SetBatch(images, labels);
        runner.Run(0);
        sync.Step(1.0, 0);
        return parameters.Trainable.ToDictionary(n => n, n => parameters.Read(n + ".grad"));
    }

    [Fact]
    public void OverlappedBucketsStartDuringTheBackwardPassAndAverageBitForBitAsAfterIt()
    {
        var after = AveragedStep(overlap: false);
        // The backward pass waits before its last kernel until a bucket's allreduce has begun: posted only after the
        // backward pass, none would, and the wait would fail.
        var overlapped = AveragedStep(overlap: true, peer => Assert.True(peer.Started.Wait(TimeSpan.FromSeconds(60)), "no bucket's allreduce started before the backward pass ended"));
        foreach (var (name, g) in after)
            Assert.Equal(g, overlapped[name]);
        Assert.True(after.Count >= 6);
    }

    [Fact]
    public void OverlappedBucketsAreEachGradientsMeanOnce()
    {
        var network = Networks.Text(TwoLayers);
        using var device = new CpuDevice(1);
        var plan = MemoryPlan.compile(PlanMode.Training, 4, network);
        using var parameters = new ParameterSet(device, plan, 1);
        using var runner = (CpuStepRunner)device.Load(plan, parameters);
        var (images, labels) = Networks.RandomBatch(plan, 3);
        runner.SetBatch(images, labels);
        runner.Run(0);
        var own = parameters.Trainable.ToDictionary(n => n, n => parameters.Read(n + ".grad"));
        var averaged = AveragedStep(overlap: true);
        foreach (var (name, g) in own)
            Assert.Equal(g.Select(v => (v + StandInPeer.Peer) * 0.5f), averaged[name]);
    }

    [Fact]
    public void BelowMpiThreadSerializedTheBucketsAreAveragedAfterTheBackwardPassSayingWhy()
    {
        var network = Networks.Text(TwoLayers);
        using var device = new CpuDevice(1);
        var plan = MemoryPlan.compile(PlanMode.Training, 4, network);
        using var parameters = new ParameterSet(device, plan, 1);
        using var runner = (CpuStepRunner)device.Load(plan, parameters);
        using var sync = new DataParallel(new CountingPeer("Open MPI provides thread level MPI_THREAD_FUNNELED"), parameters, 8);
        var log = new List<string>();
        sync.Attach(runner, device, log.Add);
        Assert.Null(runner.KernelDone);
        Assert.Equal(["the gradient allreduce is not overlapped with the backward pass: Open MPI provides thread level MPI_THREAD_FUNNELED; each bucket is averaged after it"], log);
        Assert.DoesNotContain("overlapped)", sync.Describe());
    }

    [Fact]
    public void ACollectiveThatFailsOnTheThreadIsThrownByTheWaitAndTurnsWaitForPostedOnes()
    {
        using var thread = new CommThread();
        var order = new List<string>();
        using var gate = new ManualResetEventSlim();
        thread.Post(() => { gate.Wait(); lock (order) order.Add("posted"); });
        var turn = Task.Run(() => { using (thread.Turn()) lock (order) order.Add("turn"); });
        Thread.Sleep(50);
        gate.Set();
        Assert.True(turn.Wait(TimeSpan.FromSeconds(60)));
        Assert.Equal(["posted", "turn"], order);
        thread.Post(() => throw new DistributedException("MPI failed to sum 7 values over 2 processes (MPI_Allreduce): peer gone"));
        var e = Assert.Throws<DistributedException>(thread.WaitIdle);
        Assert.Contains("peer gone", e.Message);
        Assert.Throws<DistributedException>(() => thread.Post(() => { }));
    }

    [Fact]
    public void BucketSizeAndOverlapAreReadFromTheEnvironment()
    {
        Assert.Equal(AllreduceSettings.Default, AllreduceSettings.FromEnvironment(_ => null));
        Assert.Equal(new AllreduceSettings(250_000, false),
            AllreduceSettings.FromEnvironment(new Dictionary<string, string> { ["DSL_BUCKET_MB"] = "1", ["DSL_OVERLAP"] = "0" }.GetValueOrDefault));
        Assert.Contains("DSL_BUCKET_MB=-2: give the size of a gradient bucket in MB",
            Assert.Throws<DistributedException>(() => AllreduceSettings.FromEnvironment(n => n == "DSL_BUCKET_MB" ? "-2" : null)).Message);
        Assert.Contains("DSL_OVERLAP=yes: give 1",
            Assert.Throws<DistributedException>(() => AllreduceSettings.FromEnvironment(n => n == "DSL_OVERLAP" ? "yes" : null)).Message);
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
