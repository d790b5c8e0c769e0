using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Xunit;

namespace Dsl.Runtime.Tests.Onnx;

/// <summary>The check every import test makes: the imported network on the CPU device and the ONNX file in ONNX Runtime
/// give the same class probabilities on random images (ONNX Runtime's scores put through softmax where the file ends in
/// scores and the import added softmax).</summary>
static class OnnxImportFixtures
{
    public const double Tolerance = 1e-4;

    /// <summary>The first output of <paramref name="path"/> for <paramref name="images"/>, a batch of the network's input.</summary>
    public static float[] OnnxRuntime(string path, float[] images, int[] dims)
    {
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, IntraOpNumThreads = Environment.ProcessorCount };
        using var session = new InferenceSession(path, options);
        var input = session.InputMetadata.Keys.Single();
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(input, new DenseTensor<float>(images, dims))]);
        return results.First().AsEnumerable<float>().ToArray();
    }

    public static float[] Softmax(float[] scores, int batch)
    {
        int n = scores.Length / batch;
        var p = new float[scores.Length];
        for (int b = 0; b < batch; b++)
        {
            var row = scores.AsSpan(b * n, n);
            double max = row.ToArray().Max(), sum = 0;
            for (int j = 0; j < n; j++) sum += Math.Exp(row[j] - max);
            for (int j = 0; j < n; j++) p[b * n + j] = (float)(Math.Exp(row[j] - max) / sum);
        }
        return p;
    }

    /// <summary>Imports <paramref name="path"/>, runs both, asserts the probabilities agree; returns the import and the
    /// largest difference.</summary>
    public static (ImportedNetwork imported, double worst) AssertMatchesOnnxRuntime(string path, string name, int batch, Dsl.Core.Shape? input = null)
    {
        var imported = OnnxImport.Read(path, name, input);
        var network = imported.Network;
        var images = OnnxFixtures.RandomImages(network, batch);
        var dsl = OnnxFixtures.Infer(network, new Dictionary<string, float[]>(imported.Weights), images, batch);
        var dims = new[] { batch }.Concat(network.Network.Input is Dsl.Core.Shape.Chw s ? [s.c, s.h, s.w] : new[] { network.Network.Input.Elements }).ToArray();
        var ort = OnnxRuntime(path, images, dims);
        if (imported.Notes.Any(n => n.Contains("adds softmax"))) ort = Softmax(ort, batch);
        Assert.Equal(ort.Length, dsl.Length);
        double worst = dsl.Zip(ort, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(worst < Tolerance, $"{name}: largest difference {worst} between dsl's probabilities and ONNX Runtime's");
        OnnxFixtures.AssertNotFlat(dsl, batch);
        return (imported, worst);
    }
}
