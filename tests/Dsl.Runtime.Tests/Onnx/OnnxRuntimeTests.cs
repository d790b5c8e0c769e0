using Dsl.Compiler;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Xunit;
using Xunit.Abstractions;

namespace Dsl.Runtime.Tests.Onnx;

/// <summary>The exported files run by ONNX Runtime, the inference engine a .NET user deploys: the same class
/// probabilities as the CPU device, on random weights and images, with every graph optimisation on.</summary>
public class OnnxRuntimeTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("lenet", 4)]
    [InlineData("mixed", 3)]
    [InlineData("alexnet", 2)]
    [InlineData("cifar-bn", 2)] // conv, batch norm, relu and max pooling as one CPU kernel; 3x3 convolutions as Winograd
    [InlineData("cifar-bn", 8)] // past 4 samples the dense layers multiply weights packed once, not per call
    public void ProbabilitiesMatchTheCpuDevice(string which, int batch)
    {
        var network = which switch
        {
            "lenet" => Networks.Model("lenet.model", 10),
            "alexnet" => Networks.Model("alexnet.model", 10),
            "cifar-bn" => Networks.Model("cifar-bn.model", 10),
            _ => Networks.Text(OnnxFixtures.Mixed),
        };
        var weights = OnnxFixtures.Weights(network, 4);
        var images = OnnxFixtures.RandomImages(network, batch);
        var expected = OnnxFixtures.Infer(network, weights, images, batch);

        var path = Path.Combine(Directory.CreateTempSubdirectory("dsl-ort-").FullName, which + ".onnx");
        OnnxExport.Save(path, network, weights);
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, IntraOpNumThreads = Environment.ProcessorCount };
        using var session = new InferenceSession(path, options);
        var dims = new[] { batch }.Concat(network.Network.Input switch
        {
            Dsl.Core.Shape.Chw s => new[] { s.c, s.h, s.w },
            var s => new[] { s.Elements },
        }).ToArray();
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(OnnxExport.Input, new DenseTensor<float>(images, dims))]);
        var actual = results.Single(r => r.Name == OnnxExport.Output).AsEnumerable<float>().ToArray();

        Assert.Equal(expected.Length, actual.Length);
        double worst = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        output.WriteLine($"{which}: ONNX Runtime {OrtEnv.Instance().GetVersionString()}, largest difference {worst:E2} over {expected.Length} probabilities");
        Assert.True(worst < 1e-4, $"largest difference {worst}");
        OnnxFixtures.AssertNotFlat(expected, batch);
    }
}
