using Dsl.Compiler;
using Dsl.Core;
using Dsl.Runtime.Cpu;
using Microsoft.FSharp.Collections;
using Xunit;

namespace Dsl.Runtime.Tests;

/// <summary>The compiled plan as a whole: memory reuse changes nothing, and the composed backward pass is the
/// derivative of the composed forward pass.</summary>
public class PlanTests
{

    /// <summary>The same plan with every arena buffer at its own offset: no reuse at all.</summary>
    static Plan WithoutReuse(Plan p)
    {
        long offset = 0;
        var offsets = new Dictionary<int, long>();
        foreach (var id in p.Offsets.Keys) { offsets[id] = offset; offset += (p.Buffers[id].Floats + 15) / 16 * 16; }
        return new Plan(p.Network, p.Mode, p.Batch, p.Buffers, p.Kernels, p.Params, p.Images, p.Labels, p.Probs, p.Classes, p.ClassWeights,
            new FSharpMap<int, long>(offsets.Select(kv => Tuple.Create(kv.Key, kv.Value))), offset);
    }

    static (double loss, Dictionary<string, float[]> grads) Step(Plan plan, int seed, Action<ParameterSet>? edit = null)
    {
        using var device = new CpuDevice();
        using var parameters = new ParameterSet(device, plan, seed);
        parameters.Initialize(InitScheme.Glorot);
        edit?.Invoke(parameters);
        using var runner = device.Load(plan, parameters);
        var (images, labels) = Networks.RandomBatch(plan, seed);
        runner.SetBatch(images, labels);
        var loss = runner.Run(1);
        var grads = plan.Params.ToDictionary(p => plan.Buffers[p.Value].Name, p => parameters.Read(plan.Buffers[p.Grad].Name));
        return (loss, grads);
    }

    [Fact]
    public void MemoryReuseGivesBitIdenticalResults()
    {
        var plan = MemoryPlan.compile(PlanMode.Training, 5, Networks.Text(Dsl.Runtime.Checks.StepCases.Mixed));
        var free = WithoutReuse(plan);
        Assert.True(plan.ArenaFloats < free.ArenaFloats, "the planner reused nothing");
        var (a, ga) = Step(plan, 7);
        var (b, gb) = Step(free, 7);
        Assert.Equal(a, b);
        foreach (var name in ga.Keys) Assert.Equal(ga[name], gb[name]);
    }

    [Fact]
    public void AlexNetArenaIsSmallerThanItsBuffers()
    {
        var plan = MemoryPlan.compile(PlanMode.Training, 32, Networks.Model("alexnet.model", 1000));
        long all = plan.Offsets.Keys.Sum(id => plan.Buffers[id].Floats);
        Assert.True(plan.ArenaFloats < all * 0.8, $"arena {plan.ArenaFloats} floats for {all} floats of buffers");
    }

    /// <summary>cifar-bn has six conv |> batchnorm |> relu chains. Training runs each batch norm with its relu as one pass
    /// forward and one backward; inference folds both into the convolution instead. After a dense layer, inference fuses
    /// the pair too; a tanh is not taken on.</summary>
    [Fact]
    public void BatchNormsTakeOnTheRelusAfterThem()
    {
        var model = Networks.Model("cifar-bn.model", 10);
        var training = MemoryPlan.compile(PlanMode.Training, 4, model);
        var fused = NormFusion.Find(training, ConvFusion.Find(training));
        Assert.Equal(6, fused.Values.Count(f => f.Backward is null));
        Assert.Equal(6, fused.Values.Count(f => f.Backward is not null));
        foreach (var (i, f) in fused)
            Assert.Equal(f.Backward is null ? typeof(Kernel.BatchNormForward) : typeof(Kernel.ActivationBackward), training.Kernels[i].GetType());
        var inference = MemoryPlan.compile(PlanMode.Inference, 4, model);
        Assert.Empty(NormFusion.Find(inference, ConvFusion.Find(inference)));
        var dense = MemoryPlan.compile(PlanMode.Inference, 4, Networks.Text(
            "network d\n  input 8\n  dense 6 |> batchnorm |> relu\n  dense 5 |> batchnorm |> tanh\n  dense classes\n  softmax\n"));
        Assert.Single(NormFusion.Find(dense, ConvFusion.Find(dense)));
    }

    /// <summary>Each line, between a conv and a dense head, exercises one layer kind's backward inside a whole network.</summary>
    public static TheoryData<string> Middles => new()
    {
        "conv 6 kernel 3 pad 1 |> relu",
        "conv 6 kernel 3 pad 1 groups 2 |> tanh",
        "conv 6 kernel 3 stride 2 pad 1 floor |> sigmoid",
        "lrn size 3 alpha 1e-2 beta 0.75 k 2",
        "maxpool 3 stride 2",
        "avgpool 2 ceil",
        "batchnorm |> leaky-relu 0.1",
        "batchnorm |> relu",
        "conv 6 kernel 1 |> relu",
    };

    [Theory]
    [MemberData(nameof(Middles))]
    public void ComposedGradientMatchesFiniteDifferencesOfTheLoss(string middle)
    {
        var source = $"network probe\n  input 4 x 9 x 9\n  conv 4 kernel 3 pad 1 |> tanh\n  {middle}\n  flatten\n  dense 7 |> sigmoid\n  dense classes\n  softmax\n";
        // Batch statistics make batch norm's output depend on the whole batch: the loss is still a function of the weights.
        var plan = MemoryPlan.compile(PlanMode.Training, 3, Networks.Text(source));
        var (_, grads) = Step(plan, 5);
        var rng = new Random(2);
        double worst = 0;
        foreach (var name in grads.Keys)
        {
            for (int probe = 0; probe < 3; probe++)
            {
                int i = rng.Next(grads[name].Length);
                const float h = 1e-3f;
                double Loss(float delta) => Step(plan, 5, ps =>
                {
                    var v = ps.Read(name);
                    v[i] += delta;
                    ps.Write(name, v);
                }).loss;
                double numeric = (Loss(h) - Loss(-h)) / (2 * h);
                double analytic = grads[name][i];
                double err = Math.Abs(numeric - analytic) / Math.Max(1e-2, Math.Abs(numeric) + Math.Abs(analytic));
                worst = Math.Max(worst, err);
                Assert.True(err < 2e-2, $"{name}[{i}]: analytic {analytic}, numeric {numeric}");
            }
        }
    }
}
