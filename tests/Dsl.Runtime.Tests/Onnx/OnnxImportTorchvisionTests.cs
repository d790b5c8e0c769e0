using System.Diagnostics;
using Xunit;
using Xunit.Abstractions;

namespace Dsl.Runtime.Tests.Onnx;

/// <summary>torchvision's networks with random weights, exported by PyTorch's own exporter (Debian's python3-torch and
/// python3-torchvision): the chains import and match ONNX Runtime on the exported file; ResNet-18 is refused at its first
/// residual Add. Where python3 lacks torch or torchvision, each test says so and passes without checking.</summary>
public class OnnxImportTorchvisionTests(ITestOutputHelper output)
{
    bool Unavailable()
    {
        var why = OnnxFixtures.PythonMissing("torch", "torchvision");
        if (why is not null) output.WriteLine($"NOT RUN: {why}");
        return why is not null;
    }

    string Export(string name, int opset, bool dynamicBatch)
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("dsl-torchvision-").FullName, name + ".onnx");
        var script = Path.Combine(Networks.RepoRoot, "tests", "Dsl.Runtime.Tests", "Onnx", "torchvision_export.py");
        var (code, _, stderr) = OnnxFixtures.RunPython([script, name, path, opset.ToString(), .. dynamicBatch ? new[] { "dynamic-batch" } : []]);
        Assert.True(code == 0, $"exporting torchvision's {name} failed:\n{stderr}");
        return path;
    }

    /// <summary>VGG16 (528 MiB of weights) runs one image; opsets from the oldest PyTorch writes for these to its newest.</summary>
    [Theory]
    [InlineData("alexnet", 7, 1, false)]
    [InlineData("alexnet", 17, 2, true)]
    [InlineData("vgg16", 13, 1, true)]
    public void ChainsMatchOnnxRuntime(string name, int opset, int batch, bool dynamicBatch)
    {
        if (Unavailable()) return;
        var clock = Stopwatch.StartNew();
        var path = Export(name, opset, dynamicBatch);
        try
        {
            var (imported, worst) = OnnxImportFixtures.AssertMatchesOnnxRuntime(path, name, batch);
            output.WriteLine($"torchvision {name}, opset {opset}: {imported.Network.Layers.Length} layers, " +
                             $"{imported.Network.TotalParams:N0} parameters; largest difference from ONNX Runtime {worst:E2}; {clock.Elapsed.TotalSeconds:F1} s");
        }
        finally { Directory.Delete(Path.GetDirectoryName(path)!, true); }
    }

    [Fact]
    public void ResNet18IsRefusedAtItsFirstResidualAdd()
    {
        if (Unavailable()) return;
        var path = Export("resnet18", 13, false);
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
