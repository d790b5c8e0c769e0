using Dsl.Compiler;
using Dsl.Core;
using Dsl.Runtime.Cpu;
using Dsl.Runtime.Data;
using Xunit;

namespace Dsl.Runtime.Tests;

/// <summary>Checkpoints and resume, frozen layers and fine-tuning from saved weights.</summary>
public class ResumeTests
{
    const string Small = """
        network small
          input 1 x 12 x 12
          conv 6 kernel 3 |> relu
          maxpool 2
          batchnorm
          flatten
          dense 24 |> relu |> dropout 0.3
          dense classes
          softmax
        train
          optimizer adam lr 0.003
          schedule  reduce-on-plateau patience 0 factor 0.5
          batch     16
          epochs    3
          seed      5
        """;

    static (ImageSet train, ImageSet test) Data() => DataSources.Synthetic(4, 1, 12, 12, 400, 80, 3);

    static Dictionary<string, float[]> Weights(string dir) => SafeTensors.Load(Path.Combine(dir, "weights.safetensors"));

    [Fact]
    public void ACancelledRunResumesToBitIdenticalWeights()
    {
        var (train, test) = Data();
        var (whole, parts) = ResumedRun.Train(Networks.Text(Small, 4), train, test, 2, 7,
            (_, r) => Assert.StartsWith("cancelled at epoch 2, step 7", r.StoppedBecause));

        var a = Weights(whole);
        var b = Weights(parts);
        Assert.Equal(a.Keys.Order(), b.Keys.Order());
        foreach (var k in a.Keys) Assert.Equal(a[k], b[k]);
        Assert.Equal(File.ReadAllLines(Path.Combine(whole, "metrics.csv")).Select(l => string.Join(",", l.Split(',')[..^1])),
                     File.ReadAllLines(Path.Combine(parts, "metrics.csv")).Select(l => string.Join(",", l.Split(',')[..^1])));
    }

    /// <summary>A signal at an epoch's last step, during validation or during the test pass stops the run there (no test
    /// pass, no pictures), and the resumed run ends with the weights and metrics of a run never stopped.</summary>
    [Theory]
    [InlineData("train", "cancelled at epoch 1, step 22")]
    [InlineData("validation", "cancelled at epoch 2, during validation")]
    [InlineData("test", "cancelled during the test pass")]
    public void ARunCancelledAtAnEpochsEndOrInAnEvaluationPassResumesToBitIdenticalWeights(string phase, string stopped)
    {
        var (train, test) = Data();
        // 400 images less a tenth for validation, in batches of 16: 22 steps an epoch.
        Func<TrainProgress, bool> when = phase switch
        {
            "train" => p => p.Phase == "train" && p.Epoch == 1 && p.Step == 22 && p.Finished is null,
            "validation" => p => p.Phase == "validation" && p.Epoch == 2 && p.Step < p.Steps,
            _ => p => p.Phase == "test" && p.Step < p.Steps,
        };
        var (whole, parts) = ResumedRun.Train(Networks.Text(Small, 4), train, test, when, (dir, r) =>
        {
            Assert.StartsWith(stopped, r.StoppedBecause);
            Assert.Null(r.Test);
            Assert.Empty(r.Pictures);
            Assert.False(File.Exists(Path.Combine(dir, "confusion.png")), "the pictures of an interrupted run");
        }, evalBatch: 16);

        var a = Weights(whole);
        var b = Weights(parts);
        foreach (var k in a.Keys) Assert.Equal(a[k], b[k]);
        Assert.Equal(File.ReadAllLines(Path.Combine(whole, "metrics.csv")).Select(l => string.Join(",", l.Split(',')[..^1])),
                     File.ReadAllLines(Path.Combine(parts, "metrics.csv")).Select(l => string.Join(",", l.Split(',')[..^1])));
    }

    [Fact]
    public void ResumingBeforeTheFirstCheckpointStartsOver()
    {
        var net = Networks.Text(Small, 4);
        var (train, test) = Data();
        var whole = Directory.CreateTempSubdirectory("dsl-whole-").FullName;
        var again = Directory.CreateTempSubdirectory("dsl-again-").FullName;
        using var device = new CpuDevice();
        using (var trainer = new Trainer(net, net.Network.Train!.Value, device, new TrainOptions { OutputDirectory = whole, Epochs = 1 }))
            trainer.Run(train, test);
        using (var trainer = new Trainer(net, net.Network.Train!.Value, device, new TrainOptions { OutputDirectory = again, Epochs = 1, Resume = true }))
            trainer.Run(train, test);
        Assert.Equal(Weights(whole)["dense2.weight"], Weights(again)["dense2.weight"]);
    }

    [Fact]
    public void FineTuningTheTopLeavesFrozenWeightsIdenticalAndImprovesTheTarget()
    {
        var (all, allTest) = DataSources.Load(DataSource.FashionMnist, Shape.NewChw(1, 28, 28), 1);
        // Source task: classes 0-4; target task: classes 5-9, with few images (the small-data recipe).
        ImageSet Classes(ImageSet s, int lo, int n) => s.Subset(Enumerable.Range(0, s.Count).Where(i => s.Labels[i] >= lo && s.Labels[i] < lo + 5).Take(n).ToList());
        var lenet = File.ReadAllText(Path.Combine(Networks.RepoRoot, "Models", "lenet.model"));
        var pre = Directory.CreateTempSubdirectory("dsl-pre-").FullName;
        var net = Networks.Text(lenet, 10);
        using (var device = new CpuDevice())
        using (var trainer = new Trainer(net, net.Network.Train!.Value, device, new TrainOptions { OutputDirectory = pre, Epochs = 1 }))
            trainer.Run(Classes(all, 0, 3000), Classes(allTest, 0, 500));
        var saved = Weights(pre);

        var tune = lenet.Replace("  seed       1", $"  seed       1\n  init       from \"{Path.Combine(pre, "weights.safetensors")}\"\n  freeze     conv1 to pool2\n  lr-mult    dense2 5");
        var tuned = Networks.Text(tune, 10);
        var target = Classes(all, 5, 600);
        var targetTest = Classes(allTest, 5, 500);
        var dir = Directory.CreateTempSubdirectory("dsl-tune-").FullName;
        using (var device = new CpuDevice())
        using (var trainer = new Trainer(tuned, tuned.Network.Train!.Value, device, new TrainOptions { OutputDirectory = dir, Epochs = 2, Batch = 32 }))
        {
            Assert.Equal(8, trainer.InitReport!.Loaded.Count);
            var (c, h, w) = (1, 28, 28);
            var transform = new Transform(target, c, h, w, tuned.Network.Train!.Value, Transform.Statistics(target, tuned.Network.Train!.Value.Normalize));
            double before = trainer.Evaluate(targetTest, transform).Accuracy;
            var after = trainer.Run(target, targetTest).Test!.Accuracy;
            Assert.True(after > before + 0.2, $"target accuracy {before} before fine-tuning, {after} after");
        }
        var result = Weights(dir);
        foreach (var frozen in new[] { "conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias" })
            Assert.Equal(saved[frozen], result[frozen]);
        Assert.NotEqual(saved["dense2.weight"], result["dense2.weight"]);
    }

    [Fact]
    public void FrozenLayersGetNoWeightGradientKernelsAndNothingBelowThem()
    {
        var net = Networks.Text(Small.Replace("  seed      5", "  seed      5\n  freeze    conv1 to batchnorm1"), 4);
        var plan = MemoryPlan.compile(PlanMode.Training, 4, net);
        Assert.DoesNotContain(plan.Kernels, k => k is Kernel.ConvBackwardFilter or Kernel.ConvBackwardData or Kernel.BatchNormBackward or Kernel.MaxPoolBackward);
        Assert.Contains(plan.Kernels, k => k is Kernel.DenseBackwardWeights);
        Assert.DoesNotContain(plan.Params, p => p.Layer == "conv1" || p.Layer == "batchnorm1");
    }
}
