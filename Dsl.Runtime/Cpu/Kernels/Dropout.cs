using System.Runtime.CompilerServices;

namespace Dsl.Runtime.Cpu;

/// <summary>Inverted dropout whose mask is a pure function of (seed, step, index), so it is independent of threading.</summary>
public static unsafe class Dropout
{
    private const ulong Gamma = 0x9E3779B97F4A7C15UL;

    /// <summary>mask[i] = 0 with probability p, else 1/(1-p); y = x * mask. The mask of element i is that of element
    /// <paramref name="first"/> + i of a larger batch: a process of a data-parallel job computing its shard draws the masks
    /// the whole batch would give those samples in one process.</summary>
    public static void Forward(long n, float p, ulong seed, long step, float* x, float* y, float* mask, long first = 0)
    {
        var job = new MaskJob { P = p, Keep = p >= 1f ? 0f : 1f / (1f - p), Key = Mix(seed ^ Mix((ulong)step + Gamma)), First = first, X = x, Y = y, Mask = mask };
        Ops.ForChunks(n, 1 << 14, ref job);
    }

    /// <summary>dx = dy * mask; dx may alias dy.</summary>
    public static void Backward(long n, float* mask, float* dy, float* dx) => Ops.Multiply(mask, dy, dx, n);

    /// <summary>SplitMix64 finaliser.</summary>
    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    private struct MaskJob : IChunkJob
    {
        public float P, Keep;
        public ulong Key;
        public long First;
        public float* X, Y, Mask;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(long begin, int count)
        {
            const float Scale24 = 1f / (1 << 24);
            for (long i = begin; i < begin + count; i++)
            {
                float u = (Mix(Key + (ulong)(First + i + 1) * Gamma) >> 40) * Scale24; // uniform in [0, 1)
                float m = u < P ? 0f : Keep;
                Mask[i] = m;
                Y[i] = X[i] * m;
            }
        }
    }
}
