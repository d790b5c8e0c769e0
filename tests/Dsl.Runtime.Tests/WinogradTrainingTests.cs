using Dsl.Compiler;
using Dsl.Core;
using Dsl.Runtime.Checks;
using Dsl.Runtime.Cpu;
using Xunit;

namespace Dsl.Runtime.Tests;

/// <summary>Training on the Winograd paths (CpuDevice.TrainingWinograd) against training on im2col + GEMM.</summary>
public class WinogradTrainingTests
{
    /// <summary>3x3 convolutions on F(4x4) tiles (16x16 at batch 4) and on F(2x2) ones (6x6), a 5x5 one on F(4x4), a
    /// training batch norm (after an activation: a bias right before one has a zero gradient, all rounding), and only
    /// smooth activations: no relu or max pool whose choice a 1e-6 difference could flip.</summary>
    const string Smooth = """
        network smooth
          input 3 x 16 x 16
          conv 16 kernel 3 pad 1 |> tanh
          conv 24 kernel 3 pad 1 |> tanh
          batchnorm |> tanh
          conv 16 kernel 5 pad 2 |> sigmoid
          avgpool 2
          conv 16 kernel 3 pad 0 |> tanh
          conv 16 kernel 3 pad 1 |> tanh
          flatten
          dense classes
          softmax
        """;

    /// <summary>Loss, probabilities and every gradient within 1e-4 of the im2col step's, the tolerance of the other
    /// devices' FP32 cross-checks (measured: 9.1e-6 at worst, the 5x5 layer's weight gradient, whose F(4x4, 5x5)
    /// transforms carry the larger constants, 1.5e-5 on the F(2x2, 5x5) before them; the 3x3 layers' about 5e-6).</summary>
    [Fact]
    public void AWinogradTrainingStepMatchesTheIm2colStep()
    {
        var plan = MemoryPlan.compile(PlanMode.Training, 4, Networks.Text(Smooth));
        var winograd = plan.Kernels.Count(k => k is Kernel.ConvForward c && Winograd.WorkspaceFloats(ConvGeometry.Of(c.G), CpuThreads.Count) > 0);
        var transposed = plan.Kernels.Count(k => k is Kernel.ConvBackwardData c && Winograd.BackwardDataWorkspaceFloats(ConvGeometry.Of(c.G), CpuThreads.Count) > 0);
        var filters = plan.Kernels.Count(k => k is Kernel.ConvBackwardFilter c && Winograd.BackwardFilterWorkspaceFloats(ConvGeometry.Of(c.G)) > 0);
        Assert.True(winograd == 4 && transposed == 4 && filters == 4,
            $"expected four layers on each Winograd path, found {winograd} forward, {transposed} input and {filters} filter gradients");
        var result = Harness.Step(new CpuDevice(), new CpuDevice(trainingWinograd: false), "smooth", plan, 1e-4);
        Assert.True(result.Passed, $"{result.Worst}: {result.Error:E2}");
    }
}
