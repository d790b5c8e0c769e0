using Dsl.Compiler;
using Dsl.Core;
using Dsl.Runtime.Cpu;
using Xunit;

namespace Dsl.Runtime.Tests;

/// <summary>The CPU device's inference runner keeps its convolutions' weights packed or Winograd-transformed between
/// calls; it must never run on a stale copy once the weights change. A runner loaded afresh on the same weights is the
/// reference: it has nothing kept.</summary>
public class PreparedWeightsTests
{
    // im2col (3 channels in), Winograd 3x3 with a folded batch norm, Winograd 5x5 and a 2x2 max pooling from its tiles,
    // and a dense layer, at batch 1, 4 and 8.
    const string Source = """
        network prepared
          input 3 x 12 x 12
          conv 16 kernel 3 pad 1 |> relu
          conv 16 kernel 3 pad 1 bias off |> batchnorm |> relu
          conv 16 kernel 5 pad 2 |> relu
          maxpool 2
          flatten
          dense classes
          softmax
        """;

    static float[] Probabilities(IStepRunner runner, Plan plan)
    {
        runner.Run(0);
        var probs = new float[plan.Batch * plan.Classes];
        runner.ReadProbabilities(probs);
        return probs;
    }

    static float[] Fresh(CpuDevice device, Plan plan, ParameterSet parameters, float[] images, int[] labels)
    {
        using var runner = device.Load(plan, parameters);
        runner.SetBatch(images, labels);
        return Probabilities(runner, plan);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(8)] // past the dense layer's dot-product path: its packed weights are kept too
    public void InferenceFollowsWeightsWrittenBetweenCalls(int batch)
    {
        var net = Networks.Text(Source);
        using var device = new CpuDevice();
        var plan = MemoryPlan.compile(PlanMode.Inference, batch, net);
        using var parameters = new ParameterSet(device, plan, seed: 5);
        parameters.Initialize(InitScheme.He);
        using var runner = device.Load(plan, parameters);
        var (images, labels) = Networks.RandomBatch(plan, 6);
        runner.SetBatch(images, labels);
        var before = Probabilities(runner, plan);
        var rng = new Random(7);
        foreach (var name in parameters.Trainable)
            parameters.Write(name, parameters.Read(name).Select(v => v * (float)(0.5 + rng.NextDouble())).ToArray());
        var after = Probabilities(runner, plan);
        Assert.NotEqual(before, after);
        Assert.Equal(Fresh(device, plan, parameters, images, labels), after);
    }

    [Fact]
    public void InferenceFollowsTheOptimiserOfATrainingRunnerOnTheSameWeights()
    {
        var net = Networks.Text(Source);
        using var device = new CpuDevice();
        var training = MemoryPlan.compile(PlanMode.Training, 2, net);
        var inference = MemoryPlan.compile(PlanMode.Inference, 2, net);
        using var parameters = new ParameterSet(device, training, seed: 5);
        parameters.Initialize(InitScheme.He);
        using var trainer = device.Load(training, parameters);
        using var probe = device.Load(inference, parameters);
        var (images, labels) = Networks.RandomBatch(training, 8);
        trainer.SetBatch(images, labels);
        probe.SetBatch(images, labels);
        var before = Probabilities(probe, inference);
        trainer.Run(1);
        trainer.Update(Optimizer.NewSgd(0.1, 0.0, false, 0.0), 0.1, 1);
        var after = Probabilities(probe, inference);
        Assert.NotEqual(before, after);
        Assert.Equal(Fresh(device, inference, parameters, images, labels), after);
    }
}
