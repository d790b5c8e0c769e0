using System.Diagnostics;
using Dsl.Compiler;
using Xunit;
using Xunit.Abstractions;

namespace Dsl.Runtime.Tests.Onnx;

/// <summary>Every model in Models/ (and the export tests' network with every layer kind and padding case) exported by `dsl export` with
/// random weights, then imported: the imported network matches ONNX Runtime on the exported file, and exporting it again
/// gives the same graph, initializers included, byte for byte.</summary>
public class OnnxImportModelsTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("lenet", 3)]
    [InlineData("cifar-bn", 2)] // batch norm after bias-free convolutions
    [InlineData("alexnet", 1)]
    [InlineData("vgg16", 1)]
    [InlineData("mixed", 3)]
    public void ExportImportExportKeepsGraphAndProbabilities(string which, int batch)
    {
        var clock = Stopwatch.StartNew();
        var network = which == "mixed" ? Networks.Text(OnnxFixtures.Mixed) : Networks.Model(which + ".model", 10);
        var weights = OnnxFixtures.Weights(network, 7);
        var path = Path.Combine(Directory.CreateTempSubdirectory("dsl-import-").FullName, which + ".onnx");
        OnnxExport.Save(path, network, weights);
        try
        {
            var (imported, worst) = OnnxImportFixtures.AssertMatchesOnnxRuntime(path, network.Network.Name, batch);
            var first = OnnxExport.Build(network, weights);
            var again = OnnxExport.Build(imported.Network, new Dictionary<string, float[]>(imported.Weights));
            Assert.True(first.Graph.Equals(again.Graph), $"{which}: export -> import -> export changed the graph");
            output.WriteLine($"{which}: {imported.Network.Layers.Length} layers imported; largest difference from ONNX Runtime {worst:E2}; " +
                             $"export again gives the same graph; {clock.Elapsed.TotalSeconds:F1} s");
        }
        finally { File.Delete(path); }
    }
}
