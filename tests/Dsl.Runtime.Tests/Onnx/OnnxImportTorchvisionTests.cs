using System.Diagnostics;
using Xunit;
using Xunit.Abstractions;

namespace Dsl.Runtime.Tests.Onnx;

/// <summary>torchvision's networks with random weights, exported by PyTorch's own exporter (Debian's python3-torch and
/// python3-torchvision), and a small module written as tutorials write them: the chains import and match ONNX Runtime on
/// the exported file; ResNet-18 is refused at its first residual Add. Where python3 lacks torch or torchvision, each test says so and passes without checking.</summary>
public class OnnxImportTorchvisionTests(ITestOutputHelper output)
{
    bool Unavailable()
    {
        var why = OnnxFixtures.PythonMissing("torch", "torchvision");
        if (why is not null) output.WriteLine($"NOT RUN: {why}");
        return why is not null;
    }

    string Export(string name, int opset, params string[] options)
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("dsl-torchvision-").FullName, name + ".onnx");
        var script = Path.Combine(Networks.RepoRoot, "tests", "Dsl.Runtime.Tests", "Onnx", "torch_export.py");
        var (code, _, stderr) = OnnxFixtures.RunPython([script, name, path, opset.ToString(), .. options]);
        Assert.True(code == 0, $"exporting torchvision's {name} failed:\n{stderr}");
        return path;
    }

    /// <summary>VGG16 (528 MiB of weights) runs one image; opsets from the oldest PyTorch writes for these to its newest.
    /// The tutorial module keeps `x.view(x.size(0), -1)`'s Shape, Gather, Unsqueeze and Concat (no constant folding), its
    /// batch norm on vectors, and an AvgPool2d that PyTorch writes as Pad + AveragePool.</summary>
    [Theory]
    [InlineData("alexnet", 7, 1, "")]
    [InlineData("alexnet", 17, 2, "dynamic-batch")]
    [InlineData("vgg16", 13, 1, "dynamic-batch")]
    [InlineData("tutorial", 9, 3, "dynamic-batch no-folding")]
    [InlineData("tutorial", 13, 3, "dynamic-batch no-folding")]
    public void ChainsMatchOnnxRuntime(string name, int opset, int batch, string options)
    {
        if (Unavailable()) return;
        var clock = Stopwatch.StartNew();
        var path = Export(name, opset, options.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        try
        {
            var (imported, worst) = OnnxImportFixtures.AssertMatchesOnnxRuntime(path, name, batch);
            output.WriteLine($"{name}, opset {opset}: {imported.Network.Layers.Length} layers, " +
                             $"{imported.Network.TotalParams:N0} parameters; largest difference from ONNX Runtime {worst:E2}; {clock.Elapsed.TotalSeconds:F1} s");
        }
        finally { Directory.Delete(Path.GetDirectoryName(path)!, true); }
    }

    [Fact]
    public void ResNet18IsRefusedAtItsFirstResidualAdd()
    {
        if (Unavailable()) return;
        var path = Export("resnet18", 13);
        try
        {
            var e = Assert.Throws<OnnxImportException>(() => OnnxImport.Read(path, "resnet18"));
            var lines = e.Message.Split('\n');
            output.WriteLine(string.Join("\n", lines.Take(3)));
            // Its first residual Add is node 23: conv, relu, maxpool, then conv-relu-conv of the first block (batch norm folded).
            Assert.Contains("the first is node 23 \"/layer1/layer1.0/Add\" (Add)", lines[0]);
            Assert.Contains("list of layers", lines[1]);
            Assert.Equal("nothing was written", lines[^1]);
        }
        finally { Directory.Delete(Path.GetDirectoryName(path)!, true); }
    }
}
