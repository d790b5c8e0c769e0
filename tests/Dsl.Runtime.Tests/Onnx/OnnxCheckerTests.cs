using System.Diagnostics;
using System.Runtime.InteropServices;
using Dsl.Compiler;
using Xunit;
using Xunit.Abstractions;

namespace Dsl.Runtime.Tests.Onnx;

/// <summary>The exported files judged by the onnx package (Debian's python3-onnx): the checker with its full check and
/// strict shape inference, and the same class probabilities as the CPU device when evaluated without the dsl runtime.
/// Where python3 lacks onnx or numpy, each test says so and passes without checking (xunit 2 cannot skip at run time).</summary>
public class OnnxCheckerTests(ITestOutputHelper output)
{
    string Export(Shapes.Inferred network, Dictionary<string, float[]> weights)
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("dsl-onnx-").FullName, network.Network.Name + ".onnx");
        OnnxExport.Save(path, network, weights);
        return path;
    }

    bool Unavailable(params string[] modules)
    {
        var why = OnnxFixtures.PythonMissing(modules);
        if (why is not null) output.WriteLine($"NOT RUN: {why}");
        return why is not null;
    }

    void AssertChecks(Shapes.Inferred network, int seed)
    {
        var clock = Stopwatch.StartNew();
        var (code, stdout, stderr) = OnnxFixtures.Script("check", Export(network, OnnxFixtures.Weights(network, seed)));
        Assert.True(code == 0, $"the ONNX checker rejected {network.Network.Name}:\n{stderr}");
        Assert.Equal("ok", stdout.Trim());
        output.WriteLine($"{network.Network.Name}: onnx.checker (full check) and strict shape inference passed in {clock.Elapsed.TotalSeconds:F1} s");
    }

    [Fact]
    public void LenetPassesTheChecker()
    {
        if (Unavailable("onnx")) return;
        AssertChecks(Networks.Model("lenet.model", 10), 1);
    }

    /// <summary>AlexNet is left out: the checker takes some 16 s over its 244 MB; its LRN and groups are here.</summary>
    [Fact]
    public void MixedLayersPassTheChecker()
    {
        if (Unavailable("onnx")) return;
        AssertChecks(Networks.Text(OnnxFixtures.Mixed), 3);
    }

    /// <summary>Random images through the CPU device and through the exported file (onnxruntime where installed, else the
    /// script's NumPy interpreter of the ONNX operators): the probabilities agree to float32 rounding.</summary>
    [Theory]
    [InlineData("lenet")]
    [InlineData("mixed")]
    public void ProbabilitiesMatchTheCpuDevice(string which)
    {
        if (Unavailable("onnx", "numpy")) return;
        var network = which == "lenet" ? Networks.Model("lenet.model", 10) : Networks.Text(OnnxFixtures.Mixed);
        var weights = OnnxFixtures.Weights(network, 4);
        const int batch = 3;
        var images = OnnxFixtures.RandomImages(network, batch);
        var expected = OnnxFixtures.Infer(network, weights, images, batch);

        var model = Export(network, weights);
        var dir = Path.GetDirectoryName(model)!;
        var (inputs, outputs) = (Path.Combine(dir, "inputs.bin"), Path.Combine(dir, "outputs.bin"));
        File.WriteAllBytes(inputs, MemoryMarshal.AsBytes(images.AsSpan()).ToArray());
        var (code, stdout, stderr) = OnnxFixtures.Script("run", model, inputs, outputs);
        Assert.True(code == 0, stderr);
        var actual = MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(outputs)).ToArray();

        Assert.Equal(expected.Length, actual.Length);
        double worst = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        output.WriteLine($"{which}: evaluated by {stdout.Trim()}; largest difference {worst:E2}; probabilities {string.Join(" ", expected.Take(10).Select(p => p.ToString("F3")))} ...");
        Assert.True(worst < 1e-5, $"largest difference {worst}");
        OnnxFixtures.AssertNotFlat(expected, batch);
    }
}
