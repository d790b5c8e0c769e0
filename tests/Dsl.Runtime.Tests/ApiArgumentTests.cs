using Dsl.Runtime.Cpu;
using Dsl.Runtime.Data;
using Xunit;

namespace Dsl.Runtime.Tests;

/// <summary>Bad arguments to the public API are refused where they are passed, naming the parameter: never a
/// NullReferenceException or a DivideByZeroException from deep inside.</summary>
public class ApiArgumentTests
{
    const string Model = "network small\n  input 1 x 8 x 8\n  flatten\n  dense classes\n  softmax\n";

    static CompiledNetwork Trained(CpuDevice device)
    {
        var net = ModelDefinition.Parse(Model, classes: 2).Compile(device, new TrainOptions
        {
            OutputDirectory = Directory.CreateTempSubdirectory("dsl-args-").FullName, Batch = 8, EvalBatch = 8, Epochs = 1, Statistics = false,
        });
        var (train, test) = DataSources.Synthetic(2, 1, 8, 8, 40, 8, 1);
        net.Train(train, test);
        return net;
    }

    public static TheoryData<string, string> NullCalls() => new()
    {
        { "ModelDefinition.Load", "path" }, { "ModelDefinition.Parse text", "text" }, { "ModelDefinition.Parse name", "name" },
        { "ModelDefinition.FromNetwork", "network" }, { "Compile", "device" }, { "NetworkBuilder", "name" },
        { "Devices.Open", "name" }, { "TrainOptions.OutputDirectory", "OutputDirectory" },
        { "Train train", "train" }, { "Train test", "test" }, { "Evaluate", "set" }, { "Predict", "imagePath" },
        { "SaveWeights", "path" }, { "LoadWeights", "path" }, { "InputTransform", "set" },
        { "Predictor", "weightsPath" }, { "Predictor.FromRun", "runDir" },
    };

    [Theory]
    [MemberData(nameof(NullCalls))]
    public void ANullArgumentIsArgumentNullExceptionNamingIt(string call, string parameter)
    {
        using var device = new CpuDevice();
        using var net = Trained(device);
        var (_, test) = DataSources.Synthetic(2, 1, 8, 8, 8, 8, 1);
        Action act = call switch
        {
            "ModelDefinition.Load" => () => ModelDefinition.Load(null!),
            "ModelDefinition.Parse text" => () => ModelDefinition.Parse(null!),
            "ModelDefinition.Parse name" => () => ModelDefinition.Parse(Model, null!),
            "ModelDefinition.FromNetwork" => () => ModelDefinition.FromNetwork(null!),
            "Compile" => () => ModelDefinition.Parse(Model, classes: 2).Compile(null!),
            "NetworkBuilder" => () => new NetworkBuilder(null!),
            "Devices.Open" => () => Devices.Open(null!),
            "TrainOptions.OutputDirectory" => () => _ = new TrainOptions { OutputDirectory = null! },
            "Train train" => () => net.Train(null!, test),
            "Train test" => () => net.Train(test, null!),
            "Evaluate" => () => net.Evaluate(null!),
            "Predict" => () => net.Predict((string)null!),
            "SaveWeights" => () => net.SaveWeights(null!),
            "LoadWeights" => () => net.LoadWeights(null!),
            "InputTransform" => () => net.InputTransform(null!),
            "Predictor" => () => new Predictor(net.Definition.Inferred, null!, device),
            "Predictor.FromRun" => () => Predictor.FromRun(null!, device),
            _ => throw new ArgumentException(call),
        };
        Assert.Equal(parameter, Assert.Throws<ArgumentNullException>(act).ParamName);
    }

    [Fact]
    public void BadOptionValuesAreRefusedWhereTheyAreSet()
    {
        string dir = Path.GetTempPath();
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new TrainOptions { OutputDirectory = dir, EvalBatch = 0 });
        Assert.Equal("EvalBatch", e.ParamName);
        Assert.Contains("at least 1", e.Message);
        Assert.Equal("Batch", Assert.Throws<ArgumentOutOfRangeException>(() => new TrainOptions { OutputDirectory = dir, Batch = 0 }).ParamName);
        Assert.Equal("Epochs", Assert.Throws<ArgumentOutOfRangeException>(() => new TrainOptions { OutputDirectory = dir, Epochs = -1 }).ParamName);
        Assert.Equal("Limit", Assert.Throws<ArgumentOutOfRangeException>(() => new TrainOptions { OutputDirectory = dir, Limit = 0 }).ParamName);
        // `with` goes through the same check.
        var good = new TrainOptions { OutputDirectory = dir };
        Assert.Throws<ArgumentOutOfRangeException>(() => good with { EvalBatch = -3 });
        Assert.Equal("classes", Assert.Throws<ArgumentOutOfRangeException>(() => ModelDefinition.Parse(Model, classes: 0)).ParamName);
        Assert.Equal("threads", Assert.Throws<ArgumentOutOfRangeException>(() => Devices.Open("cpu", threads: 0)).ParamName);
        using var device = new CpuDevice();
        using var net = Trained(device);
        Assert.Equal("top", Assert.Throws<ArgumentOutOfRangeException>(() => net.Predict(new float[64], top: 0)).ParamName);
        Assert.Equal("count", Assert.Throws<ArgumentOutOfRangeException>(() => net.Probabilities(new float[64], -1)).ParamName);
    }
}
