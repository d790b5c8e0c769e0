using System.Diagnostics;
using Dsl.Compiler;
using Dsl.Core;
using Dsl.Runtime.Cpu;

namespace Dsl.Runtime.Tests.Onnx;

/// <summary>Networks with random weights for the export tests, the CPU device's inference on them, and the system's
/// python3 with the onnx package (Debian's python3-onnx) as an independent judge of the exported files.</summary>
static class OnnxFixtures
{
    /// <summary>Every layer kind and every padding case of the exporter, each of which shows in the output: `ceil` pools
    /// and a conv whose last window reaches past the padding (average with and without padding, max, conv), grouped conv,
    /// an LRN strong enough to matter, batch norm on images and on vectors, dropout, each activation.</summary>
    public const string Mixed = """
        network mixed
          input 4 x 12 x 12
          conv 6 kernel 3 pad 1 groups 2 |> relu |> lrn size 3 alpha 0.5 beta 0.75 k 1
          avgpool 3 stride 2 pad 1 ceil
          maxpool 2 ceil
          conv 8 kernel 3 stride 2 pad 1 ceil |> tanh
          batchnorm |> leaky-relu 0.1
          avgpool 2 ceil
          flatten
          dense 12 |> sigmoid |> dropout 0.5
          batchnorm
          dense classes
          softmax
        """;

    /// <summary>Weights as a finished run would have them: He-initialised, with batch norm's scale, shift and running
    /// statistics made random too, so that each of them shows in the output.</summary>
    public static Dictionary<string, float[]> Weights(Shapes.Inferred network, int seed)
    {
        using var device = new CpuDevice();
        using var parameters = new ParameterSet(device, MemoryPlan.compile(PlanMode.Inference, 1, network), seed);
        parameters.Initialize(InitScheme.He);
        var rng = new Random(seed);
        var weights = new Dictionary<string, float[]>();
        foreach (var name in parameters.Weights)
        {
            var values = parameters.Read(name);
            if (name.EndsWith(".gamma") || name.EndsWith(".running_var")) Fill(values, () => 0.5 + rng.NextDouble());
            else if (name.EndsWith(".beta") || name.EndsWith(".running_mean") || name.EndsWith(".bias")) Fill(values, () => rng.NextDouble() - 0.5);
            weights[name] = values;
        }
        return weights;
    }

    static void Fill(float[] values, Func<double> next)
    {
        for (int i = 0; i < values.Length; i++) values[i] = (float)next();
    }

    /// <summary>A batch of random images in [-1, 1) for <paramref name="network"/>, the same on every run.</summary>
    public static float[] RandomImages(Shapes.Inferred network, int batch)
    {
        var rng = new Random(5);
        var images = new float[batch * network.Network.Input.Elements];
        for (int i = 0; i < images.Length; i++) images[i] = (float)(rng.NextDouble() * 2 - 1);
        return images;
    }

    /// <summary>Random weights could give near-uniform probabilities, which would hide a wrong layer: these must not be.</summary>
    public static void AssertNotFlat(float[] probabilities, int batch) =>
        Xunit.Assert.True(probabilities.Max() > 2.0 / (probabilities.Length / batch), "the probabilities are too flat to compare");

    /// <summary>The CPU device's class probabilities for <paramref name="images"/> (a whole batch).</summary>
    public static float[] Infer(Shapes.Inferred network, Dictionary<string, float[]> weights, float[] images, int batch)
    {
        var plan = MemoryPlan.compile(PlanMode.Inference, batch, network);
        using var device = new CpuDevice();
        using var parameters = new ParameterSet(device, plan, 0);
        foreach (var (name, values) in weights) parameters.Write(name, values);
        using var runner = device.Load(plan, parameters);
        runner.SetBatch(images, new int[batch]);
        runner.Run(0);
        var probs = new float[batch * plan.Classes];
        runner.ReadProbabilities(probs);
        return probs;
    }

    const string Python = "/usr/bin/python3";

    /// <summary>Why the system's python3 cannot judge ONNX files (null when it can): the checks need it to import these modules.</summary>
    public static string? PythonMissing(params string[] modules)
    {
        if (!File.Exists(Python)) return $"{Python} is not installed";
        var (code, _, err) = RunPython("-c", $"import {string.Join(", ", modules)}");
        return code == 0 ? null : $"{Python} cannot import {string.Join(", ", modules)} (tests/setup-optional installs it): {err.Trim().Split('\n')[^1]}";
    }

    /// <summary>Runs tests/Dsl.Runtime.Tests/Onnx/onnx_check.py with the given arguments.</summary>
    public static (int code, string stdout, string stderr) Script(params string[] args) =>
        RunPython([Path.Combine(Networks.RepoRoot, "tests", "Dsl.Runtime.Tests", "Onnx", "onnx_check.py"), .. args]);

    public static (int code, string stdout, string stderr) RunPython(params string[] args)
    {
        var psi = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        return (p.ExitCode, stdout.Result, stderr.Result);
    }
}
