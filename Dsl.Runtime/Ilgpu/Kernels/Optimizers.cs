using ILGPU;

namespace Dsl.Runtime.Ilgpu.Kernels;

public struct UpdateArgs
{
    public ArrayView<float> W, G, S1, S2;
    /// <summary>Learning rate and weight decay, each scaled per tensor; Adam's step size lr / (1 - beta1^t) and
    /// 1 / sqrt(1 - beta2^t), computed on the host as the CPU device does.</summary>
    public float Lr, Wd, Momentum, Beta1, Beta2, Rho, Eps, StepSize, InvSqrtBias2;
    public int Nesterov;
}

/// <summary>Parameter updates with the CPU device's (PyTorch's) rules, weight decay added to the gradient; one thread per
/// element.</summary>
public static class Optimizers
{
    /// <summary>v = mu*v + g'; w -= lr * (nesterov ? g' + mu*v : v); w -= lr*g' without momentum.</summary>
    public struct Sgd : IElementKernel<UpdateArgs>
    {
        public readonly void Run(int i, UpdateArgs a)
        {
            float w = a.W[i], g = a.G[i] + a.Wd * w;
            if (a.Momentum != 0f)
            {
                float v = a.Momentum * a.S1[i] + g;
                a.S1[i] = v;
                g = a.Nesterov != 0 ? g + a.Momentum * v : v;
            }
            a.W[i] = w - a.Lr * g;
        }
    }

    /// <summary>w -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).</summary>
    public struct Adam : IElementKernel<UpdateArgs>
    {
        public readonly void Run(int i, UpdateArgs a)
        {
            float w = a.W[i], g = a.G[i] + a.Wd * w;
            float m = a.Beta1 * a.S1[i] + (1f - a.Beta1) * g;
            float v = a.Beta2 * a.S2[i] + (1f - a.Beta2) * g * g;
            a.S1[i] = m;
            a.S2[i] = v;
            a.W[i] = w - a.StepSize * m / (MathF.Sqrt(v) * a.InvSqrtBias2 + a.Eps);
        }
    }

    /// <summary>sq = rho*sq + (1-rho)*g'^2; step = g' / (sqrt(sq) + eps), through a momentum buffer when mu > 0.</summary>
    public struct RmsProp : IElementKernel<UpdateArgs>
    {
        public readonly void Run(int i, UpdateArgs a)
        {
            float w = a.W[i], g = a.G[i] + a.Wd * w;
            float sq = a.Rho * a.S1[i] + (1f - a.Rho) * g * g;
            a.S1[i] = sq;
            float step = g / (MathF.Sqrt(sq) + a.Eps);
            if (a.Momentum > 0f)
            {
                step = a.Momentum * a.S2[i] + step;
                a.S2[i] = step;
            }
            a.W[i] = w - a.Lr * step;
        }
    }
}
