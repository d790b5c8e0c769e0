using System;
using System.Numerics.Tensors;

namespace Dsl.Runtime.Cpu;

/// <summary>Softmax followed by (optionally class-weighted) mean cross-entropy, PyTorch semantics.</summary>
public static unsafe class SoftmaxCrossEntropy
{
    /// <summary>probs = softmax(logits) per row; returns sum_i w[y_i] * -log p_i[y_i] / sum_i w[y_i] (w = 1 when classWeights is null).</summary>
    public static double Forward(int n, int classes, float* logits, int* labels, float* classWeights, float* probs)
    {
        double loss = 0, weightSum = 0;
        for (int i = 0; i < n; i++)
        {
            var z = new ReadOnlySpan<float>(logits + (long)i * classes, classes);
            var p = new Span<float>(probs + (long)i * classes, classes);
            float max = TensorPrimitives.Max(z);
            TensorPrimitives.Subtract(z, max, p);
            TensorPrimitives.Exp(p, p);
            float sum = TensorPrimitives.Sum(p);
            TensorPrimitives.Multiply(p, 1f / sum, p);
            int y = Label(labels, i, classes);
            double w = classWeights == null ? 1.0 : classWeights[y];
            // -log softmax = log(sum exp(z - max)) - (z_y - max), exact even when p_y underflows.
            loss += w * (Math.Log(sum) - (z[y] - max));
            weightSum += w;
        }
        return loss / weightSum;
    }

    /// <summary>dlogits = (probs - onehot(label)) * w[label] / sum_i w[label_i] (overwrites dlogits).</summary>
    public static void Backward(int n, int classes, float* probs, int* labels, float* classWeights, float* dlogits)
    {
        double weightSum = 0;
        for (int i = 0; i < n; i++) weightSum += classWeights == null ? 1.0 : classWeights[Label(labels, i, classes)];
        for (int i = 0; i < n; i++)
        {
            int y = Label(labels, i, classes);
            float scale = (float)((classWeights == null ? 1.0 : classWeights[y]) / weightSum);
            var d = new Span<float>(dlogits + (long)i * classes, classes);
            TensorPrimitives.Multiply(new ReadOnlySpan<float>(probs + (long)i * classes, classes), scale, d);
            d[y] -= scale;
        }
    }

    private static int Label(int* labels, int i, int classes)
    {
        int y = labels[i];
        if ((uint)y >= (uint)classes) throw new ArgumentOutOfRangeException(nameof(labels), $"label {y} of sample {i} is not in [0, {classes})");
        return y;
    }
}
