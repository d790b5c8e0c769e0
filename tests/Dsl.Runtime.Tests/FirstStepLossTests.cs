using Dsl.Compiler;
using Dsl.Core;
using Dsl.Runtime.Cpu;
using Xunit;

namespace Dsl.Runtime.Tests;

/// <summary>Every model in Models/, initialised as `dsl run` initialises it, starts near the loss of a uniform guess,
/// ln(classes): larger first logits make the first steps overshoot and silence ReLUs (issue 23: He weights on lenet's
/// last layer gave 3.27, and half of conv2 never fired again).</summary>
public class FirstStepLossTests
{
    public static TheoryData<string> Models() =>
        new(Directory.GetFiles(Path.Combine(Networks.RepoRoot, "Models"), "*.model").Select(Path.GetFileName).Order()!);

    [Theory]
    [MemberData(nameof(Models))]
    public void StartsWithinTwentyPercentOfLnClasses(string file)
    {
        const int classes = 10, batch = 2;
        var net = Networks.Model(file, classes);
        // A forward pass of two random images: AlexNet and VGG16 would take minutes to train a step here.
        var plan = MemoryPlan.compile(PlanMode.Inference, batch, net);
        using var device = new CpuDevice();
        using var parameters = new ParameterSet(device, plan, seed: 1);
        parameters.Initialize(net.Network.Train!.Value.Init.Scheme);
        using var runner = device.Load(plan, parameters);
        var (images, labels) = Networks.RandomBatch(plan, 7);
        runner.SetBatch(images, labels);
        double loss = runner.Run(0);
        double uniform = Math.Log(classes);
        Assert.True(Math.Abs(loss / uniform - 1) < 0.2, $"{file}: first loss {loss}, ln {classes} = {uniform}");
    }
}
