using Dsl.Compiler;
using Dsl.Core;
using Dsl.Runtime.Cpu;
using Dsl.Runtime.Data;
using Xunit;

namespace Dsl.Runtime.Tests;

/// <summary>The public C# API: building, compiling, training, predicting, weights, errors, and device memory.</summary>
public class ApiTests
{
    [Fact]
    public void TheBuilderMakesTheSameNetworkAsTheModelFile()
    {
        var fromFile = ModelDefinition.Load(Path.Combine(Networks.RepoRoot, "Models", "alexnet.model"), 1000).Inferred.Network;
        var fromCode = new NetworkBuilder("alexnet").Input(3, 227, 227)
            .Conv(96, kernel: 11, stride: 4).Relu().Lrn(5, 1e-4, 0.75, 2).MaxPool(3, stride: 2)
            .Conv(256, kernel: 5, pad: 2, groups: 2).Relu().Lrn(5, 1e-4, 0.75, 2).MaxPool(3, stride: 2)
            .Conv(384, kernel: 3, pad: 1).Relu()
            .Conv(384, kernel: 3, pad: 1, groups: 2).Relu()
            .Conv(256, kernel: 3, pad: 1, groups: 2).Relu().MaxPool(3, stride: 2)
            .Flatten()
            .Dense(4096).Relu().Dropout(0.5)
            .Dense(4096).Relu().Dropout(0.5)
            .Dense(1000).Softmax()
            .Build();
        Assert.Equal(fromFile.Nodes, fromCode.Inferred.Network.Nodes);
        Assert.Equal(60_965_224L, fromCode.Parameters);
    }

    [Fact]
    public void AMalformedModelIsATypedExceptionWithItsPlace()
    {
        var e = Assert.Throws<ModelFileException>(() => ModelDefinition.Parse("network x\n  input 1 x 8 x 8\n  dense 10\n  softmax\n", "x.model"));
        Assert.Equal(("x.model", 3, 3), (e.File, e.Line, e.Column));
        Assert.Contains("flatten", e.Hint);
        Assert.Contains("^", e.Message);
    }

    /// <summary>Every device but ILGPU's CPU accelerator, which takes minutes over lenet's epoch (IlgpuTests checks its
    /// buffers are freed after a whole step).</summary>
    public static TheoryData<string> AllDevices() => new(new[] { "cpu" }.Concat(Checks.Backends.Names).Where(d => d != "ilgpu-cpu"));

    /// <summary>On every device present (each opened afresh, so its count starts at zero).</summary>
    [Theory]
    [MemberData(nameof(AllDevices))]
    public void DisposingANetworkFreesItsDeviceBuffers(string backend)
    {
        using var device = Checks.Backends.TryOpen(backend, out var absent);
        if (device is null) { Console.WriteLine($"{backend}: not run, {absent}"); return; }
        Assert.Equal(0, device.LiveBuffers);
        var model = ModelDefinition.Load(Path.Combine(Networks.RepoRoot, "Models", "lenet.model"));
        using (var net = model.Compile(device, new TrainOptions { OutputDirectory = Directory.CreateTempSubdirectory().FullName, Batch = 8, EvalBatch = 8, Epochs = 1 }))
        {
            var (train, test) = DataSources.Synthetic(10, 1, 28, 28, 64, 16, 1);
            net.Train(train, test);
            net.Evaluate(test);
            Assert.True(device.LiveBuffers > 10, $"{device.LiveBuffers} buffers live");
        }
        Assert.Equal(0, device.LiveBuffers);
    }

    [Fact]
    public void TrainSaveLoadAndPredictAgree()
    {
        var model = ModelDefinition.Parse("""
            network small
              input 1 x 12 x 12
              conv 4 kernel 3 |> relu
              maxpool 2
              flatten
              dense classes
              softmax
            train
              optimizer adam lr 0.01
              epochs 3
            """, classes: 3);
        var (train, test) = DataSources.Synthetic(3, 1, 12, 12, 300, 60, 4);
        using var device = new CpuDevice();
        var dir = Directory.CreateTempSubdirectory("dsl-api-").FullName;
        using var net = model.Compile(device, new TrainOptions { OutputDirectory = dir, Batch = 16 });
        Assert.Throws<InvalidOperationException>(() => net.Evaluate(test));
        var result = net.Train(train, test);
        Assert.True(result.Test!.Accuracy > 0.9, $"accuracy {result.Test!.Accuracy}");
        var weights = Path.Combine(dir, "saved.safetensors");
        net.SaveWeights(weights);

        using var other = model.Compile(device, new TrainOptions { OutputDirectory = dir, Batch = 16, Seed = 99 });
        var report = other.LoadWeights(weights);
        Assert.Empty(report.NotInFile);
        Assert.Equal(result.Test!.Accuracy, other.Evaluate(test).Accuracy);
        var image = new float[144];
        other.InputTransform(test).Apply(test.Image(0), image, null);
        var best = other.Predict(image, top: 3);
        Assert.Equal(3, best.Count);
        Assert.True(best[0].Probability >= best[1].Probability);
        Assert.Equal(net.Probabilities(image, 1), other.Probabilities(image, 1));
    }

    [Fact]
    public void TheFineTuneExampleRuns()
    {
        var dll = Path.Combine(Networks.RepoRoot, "examples", "FineTune", "bin", Processes.Configuration, "net10.0", "FineTune.dll");
        var (code, output) = Processes.Run("dotnet", $"\"{dll}\" --source 2000 --target 300", Networks.RepoRoot);
        Assert.True(code == 0, output);
        Assert.Contains("feature-extraction: test accuracy", output);
        Assert.Contains("fine-tuning: test accuracy", output);
    }

    [Fact]
    public void TheFSharpScriptPrintsAlexNetsSummary()
    {
        // The script references the Release build of the compiler, as its first line says.
        var (built, log) = Processes.Run("dotnet", "build Dsl.Compiler -c Release -nologo -v q", Networks.RepoRoot);
        Assert.True(built == 0, log);
        var (code, output) = Processes.Run("dotnet", "fsi examples/FSharpScript.fsx", Networks.RepoRoot);
        Assert.True(code == 0, output);
        Assert.Contains("total: 60965224 parameters", output);
    }
}
