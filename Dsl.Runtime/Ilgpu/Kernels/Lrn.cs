using ILGPU;

namespace Dsl.Runtime.Ilgpu.Kernels;

public struct LrnArgs
{
    public int C, HW, Half;
    public float Alpha, Beta, K;
    public ArrayView<float> X, Y, Scale, Dy, Dx;
}

/// <summary>Local response normalisation across channels in the AlexNet paper's form (alpha not divided by the size),
/// one thread per element.</summary>
public static class Lrn
{
    /// <summary>scale = k + alpha * (sum of x^2 over the window), kept for the backward; y = x * scale^-beta.</summary>
    public struct Forward : IElementKernel<LrnArgs>
    {
        public readonly void Run(int i, LrnArgs a)
        {
            Window(a, i, out int first, out int j0, out int j1);
            float sq = 0f;
            for (int j = j0; j <= j1; j++)
            {
                float v = a.X[first + j * a.HW];
                sq += v * v;
            }
            float s = a.K + a.Alpha * sq;
            a.Scale[i] = s;
            a.Y[i] = a.X[i] * PowNeg(s, a.Beta);
        }
    }

    /// <summary>dx_i = dy_i * scale_i^-beta - 2 alpha beta x_i * sum over the window of dy_j y_j / scale_j (the window is
    /// symmetric: j's window holds i exactly when i's holds j).</summary>
    public struct Backward : IElementKernel<LrnArgs>
    {
        public readonly void Run(int i, LrnArgs a)
        {
            Window(a, i, out int first, out int j0, out int j1);
            float ratio = 0f;
            for (int j = j0; j <= j1; j++)
            {
                int o = first + j * a.HW;
                ratio += a.Dy[o] * a.Y[o] / a.Scale[o];
            }
            a.Dx[i] = a.Dy[i] * PowNeg(a.Scale[i], a.Beta) + -2f * a.Alpha * a.Beta * a.X[i] * ratio;
        }
    }

    /// <summary>Where element i's column of channels starts, and the channels of the window centred on its own.</summary>
    static void Window(LrnArgs a, int i, out int first, out int j0, out int j1)
    {
        int c = i / a.HW % a.C;
        first = i / (a.C * a.HW) * (a.C * a.HW) + i % a.HW;
        j0 = Math.Max(c - a.Half, 0);
        j1 = Math.Min(c + a.Half, a.C - 1);
    }

    /// <summary>s^-beta; the paper's 0.75 as 1 / (sqrt(s) * sqrt(sqrt(s))), as the CPU device computes it.</summary>
    static float PowNeg(float s, float beta)
    {
        if (beta == 0.75f)
        {
            float r = MathF.Sqrt(s);
            return 1f / (r * MathF.Sqrt(r));
        }
        return MathF.Pow(s, -beta);
    }
}
