// The small-data recipe: train lenet on a large source task (Fashion-MNIST's first five classes), then reuse its
// features on a small target task (the other five classes, a few hundred images):
//   1. feature extraction: load the weights, freeze every convolution, train only the dense layers;
//   2. fine-tuning: unfreeze the top convolution too and train on with a low learning rate.
//   dotnet run --project examples/FineTune -- [--source N] [--target N]
using Dsl.Runtime;
using Dsl.Runtime.Data;

int Arg(string name, int fallback) => args.SkipWhile(a => a != name).Skip(1).Select(int.Parse).DefaultIfEmpty(fallback).First();
var root = AppContext.BaseDirectory;
while (!File.Exists(Path.Combine(root, "Dsl.sln"))) root = Path.GetDirectoryName(root)!;
var lenet = File.ReadAllText(Path.Combine(root, "Models", "lenet.model"));
var work = Directory.CreateTempSubdirectory("finetune-").FullName;

var (all, allTest) = DataSources.Load(Dsl.Core.DataSource.FashionMnist, Dsl.Core.Shape.NewChw(1, 28, 28), 1);
ImageSet Classes(ImageSet s, int first, int count) =>
    s.Subset(Enumerable.Range(0, s.Count).Where(i => s.Labels[i] >= first && s.Labels[i] < first + 5).Take(count).ToList());

using var device = Devices.Open("auto");
TrainResult Train(string model, string name, ImageSet train, ImageSet test, int epochs)
{
    using var net = ModelDefinition.Parse(model, name, classes: 10).Compile(device, new TrainOptions { OutputDirectory = Path.Combine(work, name), Epochs = epochs });
    var result = net.Train(train, test);
    Console.WriteLine($"{name}: test accuracy {result.Test!.Accuracy:P1} after {epochs} epoch(s) on {train.Count} images");
    return result;
}

var source = Train(lenet, "source", Classes(all, 0, Arg("--source", 6000)), Classes(allTest, 0, 1000), 1);
var target = Classes(all, 5, Arg("--target", 500));
var targetTest = Classes(allTest, 5, 1000);
string From(string weights, string freeze, double lr) => lenet
    .Replace("sgd lr 0.01", $"sgd lr {lr}")
    .Replace("  seed       1", $"  seed       1\n  init       from \"{weights}\"\n  freeze     {freeze}");

Train(lenet, "scratch", target, targetTest, 3);
var extracted = Train(From(source.WeightsPath, "conv1 to pool2", 0.05), "feature-extraction", target, targetTest, 3);
Train(From(extracted.WeightsPath, "conv1 to pool1", 0.005), "fine-tuning", target, targetTest, 2);
