using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Algorithms.ScanReduceOperations;

namespace Dsl.Runtime.Ilgpu.Kernels;

public struct BatchNormArgs
{
    public int N, C, HW;
    public float Eps, Momentum;
    public ArrayView<float> X, Gamma, Beta, Y, Mean, InvStd, RunningMean, RunningVar, Dy, Dx, Dgamma, Dbeta;
}

/// <summary>Batch normalisation per channel over x[N, C, HW]: training with the batch's statistics, one group per channel
/// reducing with ILGPU.Algorithms; inference one thread per element.</summary>
public static class BatchNorm
{
    /// <summary>Normalises with the batch's mean and biased variance, keeps mean and 1/sqrt(var + eps) for the backward,
    /// and moves the running statistics towards the batch's (unbiased variance), as PyTorch does.</summary>
    public static void ForwardTraining(BatchNormArgs a)
    {
        int c = Grid.IdxX, count = a.N * a.HW;
        float part = 0f;
        for (int e = Group.IdxX; e < count; e += Group.DimX) part += a.X[Reduce.At(e, c, a.C, a.HW)];
        float mean = GroupExtensions.AllReduce<float, AddFloat>(part) / count;
        float dev = 0f;
        for (int e = Group.IdxX; e < count; e += Group.DimX)
        {
            float d = a.X[Reduce.At(e, c, a.C, a.HW)] - mean;
            dev += d * d;
        }
        float sq = GroupExtensions.AllReduce<float, AddFloat>(dev);
        float invStd = 1f / MathF.Sqrt(sq / count + a.Eps);
        if (Group.IsFirstThread)
        {
            a.Mean[c] = mean;
            a.InvStd[c] = invStd;
            a.RunningMean[c] = (1f - a.Momentum) * a.RunningMean[c] + a.Momentum * mean;
            a.RunningVar[c] = (1f - a.Momentum) * a.RunningVar[c] + a.Momentum * (sq / Math.Max(1, count - 1));
        }
        float scale = a.Gamma[c] * invStd, shift = a.Beta[c] - mean * scale;
        for (int e = Group.IdxX; e < count; e += Group.DimX)
        {
            int at = Reduce.At(e, c, a.C, a.HW);
            a.Y[at] = a.X[at] * scale + shift;
        }
    }

    /// <summary>y = x * a + b with a = gamma / sqrt(runningVar + eps), b = beta - runningMean * a.</summary>
    public struct ForwardInference : IElementKernel<BatchNormArgs>
    {
        public readonly void Run(int i, BatchNormArgs a)
        {
            int c = i / a.HW % a.C;
            float scale = a.Gamma[c] * (1f / MathF.Sqrt(a.RunningVar[c] + a.Eps));
            a.Y[i] = a.X[i] * scale + (a.Beta[c] - a.RunningMean[c] * scale);
        }
    }

    /// <summary>dbeta = sum dy, dgamma = sum dy * xhat, dx = gamma*invStd/M * (M*dy - dbeta - xhat*dgamma), xhat = (x - mean)*invStd.</summary>
    public static void Backward(BatchNormArgs a)
    {
        int c = Grid.IdxX, count = a.N * a.HW;
        float mean = a.Mean[c], invStd = a.InvStd[c];
        float pdy = 0f, pdyx = 0f;
        for (int e = Group.IdxX; e < count; e += Group.DimX)
        {
            int at = Reduce.At(e, c, a.C, a.HW);
            pdy += a.Dy[at];
            pdyx += a.Dy[at] * (a.X[at] - mean);
        }
        float sdy = GroupExtensions.AllReduce<float, AddFloat>(pdy);
        float dgamma = GroupExtensions.AllReduce<float, AddFloat>(pdyx) * invStd;
        if (Group.IsFirstThread)
        {
            a.Dbeta[c] = sdy;
            a.Dgamma[c] = dgamma;
        }
        float k = a.Gamma[c] * invStd, meanDy = sdy / count, xCoef = dgamma * invStd / count;
        for (int e = Group.IdxX; e < count; e += Group.DimX)
        {
            int at = Reduce.At(e, c, a.C, a.HW);
            a.Dx[at] = k * (a.Dy[at] - meanDy - (a.X[at] - mean) * xCoef);
        }
    }
}
