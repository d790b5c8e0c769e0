using ILGPU;

namespace Dsl.Runtime.Ilgpu.Kernels;

public struct DenseArgs
{
    public int N, In, Out;
    public ArrayView<float> X, W, Bias, Y, Dy, Dx, Dw;
    public int HasBias;
    public float Slope;
}

/// <summary>Fully connected layers with w[Out, In] (PyTorch's layout), one thread per output element.</summary>
public static class Dense
{
    /// <summary>y[n, o] = act(sum over i of x[n, i] * w[o, i] + bias[o]).</summary>
    public struct Forward<TAct> : IElementKernel<DenseArgs> where TAct : struct, IActivation
    {
        public readonly void Run(int e, DenseArgs a)
        {
            int o = e % a.Out, n = e / a.Out;
            float sum = 0f;
            for (int i = 0; i < a.In; i++) sum += a.X[n * a.In + i] * a.W[o * a.In + i];
            if (a.HasBias != 0) sum += a.Bias[o];
            a.Y[e] = default(TAct).Forward(sum, a.Slope);
        }
    }

    /// <summary>dx[n, i] = sum over o of dy[n, o] * w[o, i].</summary>
    public struct BackwardData : IElementKernel<DenseArgs>
    {
        public readonly void Run(int e, DenseArgs a)
        {
            int i = e % a.In, n = e / a.In;
            float sum = 0f;
            for (int o = 0; o < a.Out; o++) sum += a.Dy[n * a.Out + o] * a.W[o * a.In + i];
            a.Dx[e] = sum;
        }
    }

    /// <summary>dw[o, i] = sum over n of dy[n, o] * x[n, i]; the bias gradient is a <see cref="Reduce.ChannelSums"/>.</summary>
    public struct BackwardWeights : IElementKernel<DenseArgs>
    {
        public readonly void Run(int e, DenseArgs a)
        {
            int i = e % a.In, o = e / a.In;
            float sum = 0f;
            for (int n = 0; n < a.N; n++) sum += a.Dy[n * a.Out + o] * a.X[n * a.In + i];
            a.Dw[e] = sum;
        }
    }
}
