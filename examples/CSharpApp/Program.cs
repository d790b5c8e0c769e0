// Trains lenet on Fashion-MNIST, reports its accuracy, saves the weights and classifies a few test images.
//   dotnet run --project examples/CSharpApp -- [--epochs N] [--limit N] [--device cpu|opencl|auto]
// from the repository (or any folder with Models/lenet.model).
using Dsl.Runtime;
using Dsl.Runtime.Data;

int Arg(string name, int fallback) => args.SkipWhile(a => a != name).Skip(1).Select(int.Parse).DefaultIfEmpty(fallback).First();
string device = args.SkipWhile(a => a != "--device").Skip(1).DefaultIfEmpty("auto").First();
// Models/lenet.model in the current folder or the nearest one above it: the repository's from anywhere inside it.
string? modelFile = null;
for (var dir = new DirectoryInfo(Environment.CurrentDirectory); dir is not null && modelFile is null; dir = dir.Parent)
    if (File.Exists(Path.Combine(dir.FullName, "Models", "lenet.model"))) modelFile = Path.Combine(dir.FullName, "Models", "lenet.model");
if (modelFile is null)
{
    Console.Error.WriteLine("Models/lenet.model not found in this folder or above it: run from the repository, or copy that file here");
    return 1;
}

try
{
    var model = ModelDefinition.Load(modelFile);
    Console.WriteLine($"{model.Name}: {model.Parameters:N0} parameters");

    using var gpu = Devices.Open(device, say: Console.WriteLine);
    var runDir = Path.Combine(Path.GetTempPath(), $"lenet-{Environment.ProcessId}");
    using var net = model.Compile(gpu, new TrainOptions { OutputDirectory = runDir, Epochs = Arg("--epochs", 2), Limit = Arg("--limit", 20000) });

    var progress = new Progress<TrainProgress>(p => { if (p.Finished is { } e) Console.WriteLine($"epoch {e.Epoch}: loss {e.TrainLoss:F3}, validation accuracy {e.ValAccuracy:P1}"); });
    var result = net.Train(progress);
    Console.WriteLine($"test accuracy {result.Test!.Accuracy:P2}, top-5 {result.Test!.Top5:P2}");

    var weights = Path.Combine(runDir, "lenet.safetensors");
    net.SaveWeights(weights);
    Console.WriteLine($"weights saved to {weights}");

    var (_, test) = DataSources.Load(Dsl.Core.DataSource.FashionMnist, model.Inferred.Network.Input, 1);
    var few = test.Subset([0, 1, 2, 3, 4]);
    var probabilities = net.Probabilities(Normalised(net, few), few.Count);
    for (int i = 0; i < few.Count; i++)
    {
        var row = probabilities.AsSpan(i * net.Classes, net.Classes);
        int best = System.Numerics.Tensors.TensorPrimitives.IndexOfMax(row);
        Console.WriteLine($"test image {i}: {few.ClassNames[best]} ({row[best]:P0}), truly {few.ClassNames[few.Labels[i]]}");
    }
    return 0;
}
catch (Exception e) when (e is ModelFileException or DataException or DeviceException)
{
    Console.Error.WriteLine(e.Message);
    return 1;
}

// The images as the network takes them: normalised like the training set.
static float[] Normalised(CompiledNetwork net, ImageSet images)
{
    var transform = net.InputTransform(images);
    int size = images.ImageBytes;
    var floats = new float[images.Count * size];
    for (int i = 0; i < images.Count; i++) transform.Apply(images.Image(i), floats.AsSpan(i * size, size), null);
    return floats;
}
