using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Dsl.Runtime.Cpu;

/// <summary>In-place parameter updates with PyTorch semantics (weight decay added to the gradient).</summary>
public static unsafe class Optimizers
{
    private const int Grain = 1 << 15;

    /// <summary>SGD: g' = g + wd*w; v = mu*v + g'; w -= lr * (nesterov ? g' + mu*v : v) (w -= lr*g' when mu = 0; velocity may then be null).</summary>
    public static void Sgd(long n, float* w, float* g, float* velocity, float lr, float momentum, float weightDecay, bool nesterov)
    {
        var job = new SgdJob { W = w, G = g, V = velocity, Lr = lr, Mu = momentum, Wd = weightDecay, Nesterov = nesterov };
        Ops.ForChunks(n, Grain, ref job);
    }

    /// <summary>Adam with L2 weight decay; t is the 1-based step used for bias correction.</summary>
    public static void Adam(long n, float* w, float* g, float* m, float* v, float lr, float beta1, float beta2, float eps, float weightDecay, long t)
    {
        var job = new AdamJob
        {
            W = w, G = g, M = m, V = v, B1 = beta1, B2 = beta2, Eps = eps, Wd = weightDecay,
            StepSize = (float)(lr / (1 - Math.Pow(beta1, t))),
            InvSqrtBc2 = (float)(1 / Math.Sqrt(1 - Math.Pow(beta2, t))),
        };
        Ops.ForChunks(n, Grain, ref job);
    }

    /// <summary>RMSprop (non-centred): sq = rho*sq + (1-rho)*g'^2; step = g' / (sqrt(sq) + eps), through a momentum buffer when momentum &gt; 0 (buf may be null otherwise).</summary>
    public static void RmsProp(long n, float* w, float* g, float* sq, float lr, float rho, float eps, float weightDecay, float momentum, float* buf)
    {
        var job = new RmsJob { W = w, G = g, Sq = sq, Buf = buf, Lr = lr, Rho = rho, Eps = eps, Wd = weightDecay, Mu = momentum };
        Ops.ForChunks(n, Grain, ref job);
    }

    private struct SgdJob : IChunkJob
    {
        public float* W, G, V;
        public float Lr, Mu, Wd;
        public bool Nesterov;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(long begin, int count)
        {
            float* w = W + begin, g = G + begin, v = V + begin;
            var lr = Vector256.Create(Lr); var mu = Vector256.Create(Mu); var wd = Vector256.Create(Wd);
            int i = 0;
            for (; i <= count - 8; i += 8)
            {
                var wi = Vector256.Load(w + i);
                var gi = Vector256.Load(g + i) + wd * wi;
                if (Mu != 0f)
                {
                    var vi = mu * Vector256.Load(v + i) + gi;
                    Vector256.Store(vi, v + i);
                    gi = Nesterov ? gi + mu * vi : vi;
                }
                Vector256.Store(wi - lr * gi, w + i);
            }
            for (; i < count; i++)
            {
                float gi = g[i] + Wd * w[i];
                if (Mu != 0f)
                {
                    v[i] = Mu * v[i] + gi;
                    gi = Nesterov ? gi + Mu * v[i] : v[i];
                }
                w[i] -= Lr * gi;
            }
        }
    }

    private struct AdamJob : IChunkJob
    {
        public float* W, G, M, V;
        public float B1, B2, Eps, Wd, StepSize, InvSqrtBc2;

        // PyTorch: w -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps)
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(long begin, int count)
        {
            float* w = W + begin, g = G + begin, m = M + begin, v = V + begin;
            var b1 = Vector256.Create(B1); var c1 = Vector256.Create(1f - B1);
            var b2 = Vector256.Create(B2); var c2 = Vector256.Create(1f - B2);
            var wd = Vector256.Create(Wd); var eps = Vector256.Create(Eps);
            var step = Vector256.Create(StepSize); var ibc2 = Vector256.Create(InvSqrtBc2);
            int i = 0;
            for (; i <= count - 8; i += 8)
            {
                var wi = Vector256.Load(w + i);
                var gi = Vector256.Load(g + i) + wd * wi;
                var mi = b1 * Vector256.Load(m + i) + c1 * gi;
                var vi = b2 * Vector256.Load(v + i) + c2 * gi * gi;
                Vector256.Store(mi, m + i);
                Vector256.Store(vi, v + i);
                Vector256.Store(wi - step * mi / (Vector256.Sqrt(vi) * ibc2 + eps), w + i);
            }
            for (; i < count; i++)
            {
                float gi = g[i] + Wd * w[i];
                m[i] = B1 * m[i] + (1f - B1) * gi;
                v[i] = B2 * v[i] + (1f - B2) * gi * gi;
                w[i] -= StepSize * m[i] / (MathF.Sqrt(v[i]) * InvSqrtBc2 + Eps);
            }
        }
    }

    private struct RmsJob : IChunkJob
    {
        public float* W, G, Sq, Buf;
        public float Lr, Rho, Eps, Wd, Mu;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(long begin, int count)
        {
            float* w = W + begin, g = G + begin, sq = Sq + begin, buf = Buf + begin;
            var rho = Vector256.Create(Rho); var c = Vector256.Create(1f - Rho);
            var wd = Vector256.Create(Wd); var eps = Vector256.Create(Eps);
            var lr = Vector256.Create(Lr); var mu = Vector256.Create(Mu);
            int i = 0;
            for (; i <= count - 8; i += 8)
            {
                var wi = Vector256.Load(w + i);
                var gi = Vector256.Load(g + i) + wd * wi;
                var si = rho * Vector256.Load(sq + i) + c * gi * gi;
                Vector256.Store(si, sq + i);
                var stepI = gi / (Vector256.Sqrt(si) + eps);
                if (Mu > 0f)
                {
                    stepI = mu * Vector256.Load(buf + i) + stepI;
                    Vector256.Store(stepI, buf + i);
                }
                Vector256.Store(wi - lr * stepI, w + i);
            }
            for (; i < count; i++)
            {
                float gi = g[i] + Wd * w[i];
                sq[i] = Rho * sq[i] + (1f - Rho) * gi * gi;
                float s = gi / (MathF.Sqrt(sq[i]) + Eps);
                if (Mu > 0f) s = buf[i] = Mu * buf[i] + s;
                w[i] -= Lr * s;
            }
        }
    }
}
