using ILGPU;

namespace Dsl.Runtime.Ilgpu.Kernels;

public struct LossArgs
{
    public int N, Classes, Weighted, Training;
    public ArrayView<float> Logits, Probs, ClassWeights, Dlogits, Losses;
    public ArrayView<int> Labels;
}

/// <summary>Softmax with (optionally class-weighted) cross-entropy, one thread per example: its probabilities, its
/// weighted loss and weight (losses[i] and losses[N + i], summed on the host in double as the other GPU paths do, so the
/// mean matches the CPU device's), and in training the logits' gradient.</summary>
public static class Loss
{
    /// <summary>loss_i = log(sum exp(z - max)) - (z_y - max): exact even where p_y underflows. dlogits = (p - onehot(y)) *
    /// w_y / sum over the batch of w_y. Labels are ints; the host checks they lie in [0, classes).</summary>
    public struct SoftmaxCrossEntropy : IElementKernel<LossArgs>
    {
        public readonly void Run(int i, LossArgs a)
        {
            int row = i * a.Classes;
            float top = a.Logits[row];
            for (int j = 1; j < a.Classes; j++) top = MathF.Max(top, a.Logits[row + j]);
            float sum = 0f;
            for (int j = 0; j < a.Classes; j++)
            {
                float e = MathF.Exp(a.Logits[row + j] - top);
                a.Probs[row + j] = e;
                sum += e;
            }
            float inv = 1f / sum;
            for (int j = 0; j < a.Classes; j++) a.Probs[row + j] *= inv;
            int y = a.Labels[i];
            float w = a.Weighted != 0 ? a.ClassWeights[y] : 1f;
            a.Losses[i] = w * (MathF.Log(sum) - (a.Logits[row + y] - top));
            a.Losses[a.N + i] = w;
            if (a.Training == 0) return;
            // Every thread sums the batch's weights itself: the batch is small, and no second launch is needed.
            float total = a.N;
            if (a.Weighted != 0)
            {
                total = 0f;
                for (int j = 0; j < a.N; j++) total += a.ClassWeights[a.Labels[j]];
            }
            float scale = w / total;
            for (int j = 0; j < a.Classes; j++) a.Dlogits[row + j] = a.Probs[row + j] * scale;
            a.Dlogits[row + y] -= scale;
        }
    }
}
