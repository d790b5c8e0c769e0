using ILGPU;

namespace Dsl.Runtime.Ilgpu.Kernels;

public struct ActivationArgs
{
    public ArrayView<float> X, Y, Dy, Dx;
    public float Slope;
}

/// <summary>Activations on their own (where no GEMM before them carries them) and dropout: one thread per element.</summary>
public static class Elementwise
{
    public struct ActivationForward<TAct> : IElementKernel<ActivationArgs> where TAct : struct, IActivation
    {
        public readonly void Run(int i, ActivationArgs a) =>
            a.Y[i] = default(TAct).Forward(a.X[i], a.Slope);
    }

    /// <summary>Dx may be Dy: each element is read before it is written.</summary>
    public struct ActivationBackward<TAct> : IElementKernel<ActivationArgs> where TAct : struct, IActivation
    {
        public readonly void Run(int i, ActivationArgs a) =>
            a.Dx[i] = default(TAct).Backward(a.Y[i], a.Dy[i], a.Slope);
    }
}

public struct DropoutArgs
{
    public ArrayView<float> X, Y, Mask, Dy, Dx;
    public ulong Key;
    /// <summary>The number of this batch's first element in the global batch (a data-parallel process's shard).</summary>
    public ulong First;
    public float Rate, Keep;
}

/// <summary>Inverted dropout with the CPU device's mask, bit for bit (Cpu/Kernels/Dropout.cs): element i is dropped when
/// the top 24 bits of SplitMix64(key + (first + i + 1) * gamma), as a fraction of 2^24, are below the rate.</summary>
public static class Dropout
{
    public const ulong Gamma = 0x9E3779B97F4A7C15UL;

    public static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>The key of a layer's masks at a step, as the CPU device derives it: layerSeed = seed * 1000003 + layer.</summary>
    public static ulong Key(ulong seed, int layer, long step) => Mix((seed * 1000003UL + (ulong)layer) ^ Mix((ulong)step + Gamma));

    public struct Forward : IElementKernel<DropoutArgs>
    {
        public readonly void Run(int i, DropoutArgs a)
        {
            float u = (Mix(a.Key + (a.First + (ulong)(i + 1L)) * Gamma) >> 40) * (1f / (1 << 24));
            float m = u < a.Rate ? 0f : a.Keep;
            a.Mask[i] = m;
            a.Y[i] = a.X[i] * m;
        }
    }

    /// <summary>Dx may be Dy.</summary>
    public struct Backward : IElementKernel<DropoutArgs>
    {
        public readonly void Run(int i, DropoutArgs a) => a.Dx[i] = a.Dy[i] * a.Mask[i];
    }
}
