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

    const int Classes = 10;

    /// <summary>The loss of a forward pass of two random images, at the train block's initialisation: AlexNet and VGG16
    /// would take minutes to train a step here.</summary>
    static double FirstLoss(Shapes.Inferred net)
    {
        var plan = MemoryPlan.compile(PlanMode.Inference, 2, net);
        using var device = new CpuDevice();
        using var parameters = new ParameterSet(device, plan, seed: 1);
        parameters.Initialize(net.Network.Train!.Value.Init.Scheme);
        using var runner = device.Load(plan, parameters);
        var (images, labels) = Networks.RandomBatch(plan, 7);
        runner.SetBatch(images, labels);
        return runner.Run(0);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void StartsWithinTwentyPercentOfLnClasses(string file)
    {
        double loss = FirstLoss(Networks.Model(file, Classes)), uniform = Math.Log(Classes);
        Assert.True(Math.Abs(loss / uniform - 1) < 0.2, $"{file}: first loss {loss}, ln {Classes} = {uniform}");
    }

    [Fact]
    public void InitHeStartsLenetFarAboveLnTenAndInitByRoleAtIt()
    {
        var lenet = File.ReadAllText(Path.Combine(Networks.RepoRoot, "Models", "lenet.model"));
        double he = FirstLoss(Networks.Text(lenet + "\n  init he\n")), byRole = FirstLoss(Networks.Text(lenet + "\n  init by-role\n"));
        Assert.True(he > 1.2 * Math.Log(Classes), $"init he: first loss {he}");
        // Zero logits: the loss of a uniform guess, whatever the labels.
        Assert.Equal(Math.Log(Classes), byRole, 1e-5);
    }
}
