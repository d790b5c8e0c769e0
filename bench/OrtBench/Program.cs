// Times inference of an ONNX file (written by `dsl export`) in ONNX Runtime on the CPU, printed in `dsl bench`'s words:
//   OrtBench MODEL.onnx --batch N --steps N --warmup N --threads N
//   OrtBench --check --threads N      prints the version and settings a run would use, for bench/cpu.sh's peer check
//   --optimized FILE writes the graph ONNX Runtime runs after its optimisations (fusions, NCHWc layout);
//   --profile PREFIX writes its per-node timings (Chrome trace JSON, PREFIX_<date>.json) for the timed steps.
// Intra-op threads = the given count (default: all cores), sequential execution, every graph optimisation on: the
// settings a .NET service deploying the model would choose.
using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

string path = args[0];
int Arg(string name, int fallback) => Array.IndexOf(args, name) is var i and >= 0 ? int.Parse(args[i + 1]) : fallback;
int batch = Arg("--batch", 32), steps = Arg("--steps", 10), warmup = Arg("--warmup", 2), threads = Arg("--threads", Environment.ProcessorCount);

using var options = new SessionOptions
{
    GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
    ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
    IntraOpNumThreads = threads,
    InterOpNumThreads = 1,
};
string settings = $"ONNX Runtime {OrtEnv.Instance().GetVersionString()} on the CPU ({threads} intra-op threads, sequential, all graph optimisations)";
if (path == "--check")
{
    Console.WriteLine(settings);
    return;
}
string? Text(string name) => Array.IndexOf(args, name) is var i and >= 0 ? args[i + 1] : null;
if (Text("--optimized") is { } optimized) options.OptimizedModelFilePath = optimized;
if (Text("--profile") is { } prefix)
{
    options.EnableProfiling = true;
    options.ProfileOutputPathPrefix = prefix;
}
using var session = new InferenceSession(path, options);
var input = session.InputMetadata.Single();
var dims = input.Value.Dimensions.Select((d, i) => i == 0 ? batch : d).ToArray();
var rng = new Random(1);
var images = new DenseTensor<float>(Enumerable.Range(0, dims.Aggregate(1, (a, b) => a * b)).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray(), dims);
var feed = new[] { NamedOnnxValue.CreateFromTensor(input.Key, images) };

for (int i = 0; i < warmup; i++) session.Run(feed).Dispose();
var each = new double[steps];
var clock = Stopwatch.StartNew();
for (int i = 0; i < steps; i++)
{
    double started = clock.Elapsed.TotalSeconds;
    session.Run(feed).Dispose();
    each[i] = clock.Elapsed.TotalSeconds - started;
}
double perStep = clock.Elapsed.TotalSeconds / steps;
Array.Sort(each);
double Quantile(double q) => each[Math.Min(steps - 1, (int)(q * steps))];
Console.WriteLine($"{Path.GetFileNameWithoutExtension(path)} in {settings}, batch {batch}, {steps} timed steps after {warmup} warm-up");
Console.WriteLine($"inference: {batch / perStep,8:F1} images/s  ({1000 * perStep:F1} ms per batch; median {1000 * Quantile(0.5):F3} ms, p95 {1000 * Quantile(0.95):F3} ms)");
if (options.EnableProfiling) Console.WriteLine($"profile: {session.EndProfiling()}");
