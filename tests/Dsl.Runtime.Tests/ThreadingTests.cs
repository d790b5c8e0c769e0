using Dsl.Runtime.Cpu;
using Dsl.Runtime.Data;
using Xunit;

namespace Dsl.Runtime.Tests;

/// <summary>CompiledNetwork's threading contract (docs/embedding.md): predictions from many threads at once, and
/// beside a Train, each see whole weights.</summary>
public class ThreadingTests
{
    const int Side = 12, Floats = Side * Side, Classes = 3;

    static CompiledNetwork Net(IDevice device, int epochs) => ModelDefinition.Parse("""
        network small
          input 1 x 12 x 12
          conv 4 kernel 3 |> relu
          maxpool 2
          flatten
          dense classes
          softmax
        train
          optimizer sgd lr 0.2
        """, classes: Classes).Compile(device, new TrainOptions
    {
        OutputDirectory = Directory.CreateTempSubdirectory("dsl-threads-").FullName, Batch = 8, EvalBatch = 2, Epochs = epochs,
        Statistics = false,
    });

    static float[][] Inputs(CompiledNetwork net, ImageSet set, int count) => Enumerable.Range(0, count).Select(i =>
    {
        var x = new float[Floats];
        net.InputTransform(set).Apply(set.Image(i % set.Count), x, null);
        return x;
    }).ToArray();

    static bool Close(float[] a, float[] b) => a.Zip(b).All(p => Math.Abs(p.First - p.Second) <= 1e-5f);

    [Fact]
    public void EightThreadsPredictingGetTheAnswersOfOneThread()
    {
        using var device = new CpuDevice();
        using var net = Net(device, 1);
        var (train, test) = DataSources.Synthetic(Classes, 1, Side, Side, 200, 64, 3);
        net.Train(train, test);
        var inputs = Inputs(net, test, 64);
        // The answers of one thread first: the reference each concurrent answer must equal.
        var expected = inputs.Select(x => net.Probabilities(x, 1)).ToArray();
        var expectedTop = inputs.Select(x => net.Predict(x, 1)[0].Index).ToArray();
        int wrong = 0;
        var threads = Enumerable.Range(0, 8).Select(t => new Thread(() =>
        {
            for (int j = 0; j < 100; j++)
            {
                int i = (t * 37 + j) % inputs.Length;
                bool right = j % 2 == 0 ? Close(net.Probabilities(inputs[i], 1), expected[i]) : net.Predict(inputs[i], 1)[0].Index == expectedTop[i];
                if (!right) Interlocked.Increment(ref wrong);
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Assert.Equal(0, wrong);
    }

    [Fact]
    public void PredictionsBesideTrainSeeTheWeightsBeforeOrAfterAStep()
    {
        using var device = new CpuDevice();
        using var net = Net(device, 2);
        var (train, test) = DataSources.Synthetic(Classes, 1, Side, Side, 200, 32, 5);
        net.Train(train, test);
        var x = Inputs(net, test, 1)[0];
        // Every whole-weights answer: before the second Train, then after each of its steps (the progress report comes
        // after a step's update, on the training thread, between steps).
        var allowed = new List<float[]> { net.Probabilities(x, 1) };
        var progress = new SyncProgress(p => { if (p.Phase == "train" && p.Finished is null) lock (allowed) allowed.Add(net.Probabilities(x, 1)); });
        var seen = new System.Collections.Concurrent.ConcurrentBag<float[]>();
        using var stop = new CancellationTokenSource();
        var readers = Enumerable.Range(0, 4).Select(_ => new Thread(() =>
        {
            while (!stop.IsCancellationRequested) seen.Add(net.Probabilities(x, 1));
        })).ToList();
        readers.ForEach(t => t.Start());
        net.Train(train, test, progress);
        stop.Cancel();
        readers.ForEach(t => t.Join());

        // The test can fail: consecutive steps move the answer by more than the tolerance.
        Assert.True(allowed.Count > 40, $"{allowed.Count} steps");
        Assert.True(allowed.Zip(allowed.Skip(1)).Count(p => !Close(p.First, p.Second)) > allowed.Count / 2, "the steps barely change the answer");
        Assert.True(seen.Count > 20, $"only {seen.Count} predictions ran beside training");
        var torn = seen.Where(s => !allowed.Any(a => Close(a, s))).ToList();
        Assert.True(torn.Count == 0, $"{torn.Count} of {seen.Count} predictions match no step's weights: {string.Join(" ", torn.FirstOrDefault() ?? [])}");
    }

    [Fact]
    public void ASecondTrainOrALoadDuringATrainIsRefused()
    {
        using var device = new CpuDevice();
        using var net = Net(device, 3);
        var (train, test) = DataSources.Synthetic(Classes, 1, Side, Side, 200, 32, 5);
        Exception? second = null, load = null;
        bool tried = false;
        var progress = new SyncProgress(p =>
        {
            if (tried) return;
            tried = true;
            second = Record(() => net.Train(train, test));
            load = Record(() => net.LoadWeights("none.safetensors"));
        });
        net.Train(train, test, progress);
        Assert.Contains("one at a time", Assert.IsType<InvalidOperationException>(second).Message);
        Assert.IsType<InvalidOperationException>(load);
    }

    static Exception? Record(Action a)
    {
        try { a(); return null; }
        catch (Exception e) { return e; }
    }

    /// <summary>Reports on the training thread (Progress&lt;T&gt; posts to the thread pool, after the step has moved on).</summary>
    sealed class SyncProgress(Action<TrainProgress> report) : IProgress<TrainProgress>
    {
        public void Report(TrainProgress value) => report(value);
    }
}
