using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Dsl.Runtime.Cpu;

/// <summary>Adds <c>values</c> element-wise over the processes of a data-parallel job, in place.</summary>
public delegate void SumOverProcesses(Span<double> values);

/// <summary>Batch normalisation per channel over x[N, C, HW] (HW = 1 for [N, F]); statistics accumulate in double.
/// Each pass can take the relu or leaky relu (slope at least 0) that follows the batch norm in a plan, so that the normalised
/// values never go through memory on their own: the forward pass stores act(y), and the backward pass takes dy as the
/// gradient of act(y), with act' from y recomputed from x (bit for bit the y the forward pass activated).</summary>
public static unsafe class BatchNorm
{
    /// <summary>Normalises with batch statistics, saves mean and 1/sqrt(var+eps), and updates running stats (unbiased variance) PyTorch-style.</summary>
    public static void ForwardTraining(int N, int C, int HW, float* x, float* gamma, float* beta, float* y,
        float* saveMean, float* saveInvStd, float* runningMean, float* runningVar, float momentum, float eps,
        Activation act = Activation.None, float slope = 0f)
    {
        var job = new Job { Mode = Op.Train, N = N, C = C, HW = HW, X = x, Gamma = gamma, Beta = beta, Y = y, Mean = saveMean, InvStd = saveInvStd,
            RunningMean = runningMean, RunningVar = runningVar, Momentum = momentum, Eps = eps, Act = Gate(act, slope), Slope = slope };
        CpuThreads.For(C, 1, ref job);
    }

    /// <summary>y = gamma * (x - runningMean) / sqrt(runningVar + eps) + beta.</summary>
    public static void ForwardInference(int N, int C, int HW, float* x, float* gamma, float* beta, float* y,
        float* runningMean, float* runningVar, float eps, Activation act = Activation.None, float slope = 0f)
    {
        var job = new Job { Mode = Op.Infer, N = N, C = C, HW = HW, X = x, Gamma = gamma, Beta = beta, Y = y,
            RunningMean = runningMean, RunningVar = runningVar, Eps = eps, Act = Gate(act, slope), Slope = slope };
        CpuThreads.For(C, 1, ref job);
    }

    /// <summary>dx, dgamma, dbeta (all overwritten) from dy and the saved batch statistics. With an activation, dy is
    /// the gradient of its output, and <paramref name="beta"/> is needed to recompute its input.</summary>
    public static void Backward(int N, int C, int HW, float* x, float* dy, float* gamma, float* saveMean, float* saveInvStd,
        float* dx, float* dgamma, float* dbeta, float* beta = null, Activation act = Activation.None, float slope = 0f)
    {
        var job = new Job { Mode = Op.Grad, N = N, C = C, HW = HW, X = x, Dy = dy, Gamma = gamma, Mean = saveMean, InvStd = saveInvStd,
            Dx = dx, DGamma = dgamma, DBeta = dbeta, Beta = beta, Act = Gate(act, slope, beta, backward: true), Slope = slope };
        CpuThreads.For(C, 1, ref job);
    }

    /// <summary>Training-mode batch norm over the whole batch of a data-parallel job (PyTorch's SyncBatchNorm): each of
    /// <paramref name="processes"/> holds N samples, and <paramref name="sum"/> adds a span over them in place. The mean is
    /// summed first, then the squared deviations from it, as <see cref="ForwardTraining"/> does within one process.
    /// <paramref name="stats"/> holds C doubles.</summary>
    public static void ForwardTrainingSynced(int N, int C, int HW, float* x, float* gamma, float* beta, float* y,
        float* saveMean, float* saveInvStd, float* runningMean, float* runningVar, float momentum, float eps, int processes, double* stats, SumOverProcesses sum,
        Activation act = Activation.None, float slope = 0f)
    {
        var job = new Job { N = N, C = C, HW = HW, X = x, Gamma = gamma, Beta = beta, Y = y, Mean = saveMean, InvStd = saveInvStd,
            RunningMean = runningMean, RunningVar = runningVar, Momentum = momentum, Eps = eps, Stats = stats, Total = (long)N * HW * processes,
            Act = Gate(act, slope), Slope = slope };
        foreach (var phase in (ReadOnlySpan<Op>)[Op.SumX, Op.SumSquares, Op.Normalise])
        {
            job.Mode = phase;
            CpuThreads.For(C, 1, ref job);
            if (phase != Op.Normalise) sum(new Span<double>(stats, C));
        }
    }

    /// <summary>The backward pass of <see cref="ForwardTrainingSynced"/>: dgamma and dbeta from this process's samples (the
    /// job averages them with the other gradients), dx from the sums of dy and dy·(x − mean) over every process's samples.
    /// <paramref name="stats"/> holds 2C doubles.</summary>
    public static void BackwardSynced(int N, int C, int HW, float* x, float* dy, float* gamma, float* saveMean, float* saveInvStd,
        float* dx, float* dgamma, float* dbeta, int processes, double* stats, SumOverProcesses sum,
        float* beta = null, Activation act = Activation.None, float slope = 0f)
    {
        var job = new Job { Mode = Op.GradSums, N = N, C = C, HW = HW, X = x, Dy = dy, Gamma = gamma, Mean = saveMean, InvStd = saveInvStd,
            Dx = dx, DGamma = dgamma, DBeta = dbeta, Stats = stats, Total = (long)N * HW * processes, Beta = beta, Act = Gate(act, slope, beta, backward: true), Slope = slope };
        CpuThreads.For(C, 1, ref job);
        sum(new Span<double>(stats, 2 * C));
        job.Mode = Op.GradInput;
        CpuThreads.For(C, 1, ref job);
    }

    /// <summary>Inference-mode batch norm as y = x * a + b: a = gamma / sqrt(var + eps), b = beta - mean * a (also what a
    /// convolution folds into its epilogue).</summary>
    internal static (float A, float B) InferenceAffine(float gamma, float beta, float mean, float variance, float eps)
    {
        float a = gamma * (1f / MathF.Sqrt(variance + eps));
        return (a, beta - mean * a);
    }

    /// <summary>The activations a batch norm's passes can take: those whose derivative follows from the sign of their
    /// input, the same before and after them (relu, and leaky relu with a slope of at least 0).</summary>
    static Activation Gate(Activation act, float slope, float* beta = null, bool backward = false) =>
        act switch
        {
            Activation.None => act,
            Activation.Relu or Activation.LeakyRelu when !(slope < 0) =>
                backward && beta == null ? throw new ArgumentNullException(nameof(beta), "the backward pass recomputes the activation's input from beta") : act,
            _ => throw new ArgumentOutOfRangeException(nameof(act), $"batch norm takes relu or leaky relu with a slope of at least 0, not {act} (slope {slope})"),
        };

    private enum Op { Train, Infer, Grad, SumX, SumSquares, Normalise, GradSums, GradInput }

    private struct Job : IParallelJob
    {
        public Op Mode;
        public int N, C, HW;
        public float Momentum, Eps, Slope;
        public Activation Act;
        public float* X, Y, Dy, Dx, Gamma, Beta, Mean, InvStd, RunningMean, RunningVar, DGamma, DBeta;
        /// <summary>The synced passes' per-channel sums, and the samples' count over every process.</summary>
        public double* Stats;
        public long Total;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int begin, int end)
        {
            for (int c = begin; c < end; c++)
            {
                switch (Mode)
                {
                    case Op.Train: Train(c); break;
                    case Op.Infer:
                        var (a, b) = InferenceAffine(Gamma[c], Beta[c], RunningMean[c], RunningVar[c], Eps);
                        Scale(c, a, b);
                        break;
                    case Op.Grad: Grad(c); break;
                    case Op.SumX:
                        Stats[c] = 0;
                        for (int n = 0; n < N; n++) Stats[c] += Sum(Plane(X, n, c), HW);
                        break;
                    case Op.SumSquares:
                        float mean = Mean[c] = (float)(Stats[c] / Total);
                        Stats[c] = 0;
                        for (int n = 0; n < N; n++) Stats[c] += SumSquaredDeviation(Plane(X, n, c), HW, mean);
                        break;
                    case Op.Normalise: Normalise(c, Stats[c], Total); break;
                    case Op.GradSums: GradSums(c); break;
                    case Op.GradInput: GradInput(c, (float)Stats[c], (float)(Stats[C + c] * InvStd[c]), Total); break;
                }
            }
        }

        private readonly float* Plane(float* p, int n, int c) => p + ((long)n * C + c) * HW;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly void Train(int c)
        {
            long count = (long)N * HW;
            double sum = 0;
            for (int n = 0; n < N; n++) sum += Sum(Plane(X, n, c), HW);
            float mean = (float)(sum / count);
            double sq = 0;
            for (int n = 0; n < N; n++) sq += SumSquaredDeviation(Plane(X, n, c), HW, mean);
            Mean[c] = mean;
            Normalise(c, sq, count);
        }

        /// <summary>From the mean already in Mean[c] and the squared deviations from it over <paramref name="count"/> samples:
        /// 1/sqrt(var+eps), the running statistics, and y.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly void Normalise(int c, double sq, long count)
        {
            float mean = Mean[c];
            double variance = sq / count;
            float invStd = (float)(1.0 / Math.Sqrt(variance + Eps));
            InvStd[c] = invStd;
            if (RunningMean != null) RunningMean[c] = (1f - Momentum) * RunningMean[c] + Momentum * mean;
            if (RunningVar != null)
                RunningVar[c] = (float)((1.0 - Momentum) * RunningVar[c] + Momentum * (count > 1 ? sq / (count - 1) : variance));
            var (a, b) = Affine(c);
            Scale(c, a, b);
        }

        /// <summary>y = x * a + b with the saved statistics: the forward pass's, and what the backward pass recomputes.</summary>
        private readonly (float A, float B) Affine(int c)
        {
            float a = Gamma[c] * InvStd[c];
            return (a, Beta[c] - Mean[c] * a);
        }

        private readonly void Scale(int c, float a, float b)
        {
            switch (Act)
            {
                case Activation.Relu: Scale<ReluGate>(c, a, b); break;
                case Activation.LeakyRelu: Scale<LeakyGate>(c, a, b); break;
                default: Scale<NoGate>(c, a, b); break;
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly void Scale<TAct>(int c, float a, float b) where TAct : IActivationGate
        {
            // Vectors, then the rest: each element's one FMA either way (the JIT does not vectorise the plain loop).
            var va = Vector512.Create(a);
            var vb = Vector512.Create(b);
            var vs = Vector512.Create(Slope);
            for (int n = 0; n < N; n++)
            {
                float* x = Plane(X, n, c), y = Plane(Y, n, c);
                int i = 0;
                for (; i <= HW - 16; i += 16) TAct.Apply(Vector512.FusedMultiplyAdd(Vector512.Load(x + i), va, vb), vs).Store(y + i);
                for (; i < HW; i++) y[i] = TAct.Apply(MathF.FusedMultiplyAdd(x[i], a, b), Slope);
            }
        }

        // dx = gamma*invStd/M * (M*dy - sum(dy) - xhat*sum(dy*xhat)), xhat = (x - mean)*invStd
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly void Grad(int c)
        {
            GradSums(c);
            GradInput(c, DBeta[c], DGamma[c], (long)N * HW);
        }

        /// <summary>dbeta = Σ dy and dgamma = Σ dy·(x − mean)·invStd over this process's samples; the synced pass also
        /// keeps both sums in <see cref="Stats"/>.</summary>
        private readonly void GradSums(int c)
        {
            var (sdy, sdyx) = Act switch
            {
                Activation.Relu => GradSums<ReluGate>(c),
                Activation.LeakyRelu => GradSums<LeakyGate>(c),
                _ => GradSums<NoGate>(c),
            };
            DBeta[c] = (float)sdy;
            DGamma[c] = (float)(sdyx * InvStd[c]);
            if (Stats != null) (Stats[c], Stats[C + c]) = (sdy, sdyx);
        }

        /// <summary>Both sums plane by plane, each vectorised with a fixed lane order, in double across planes.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly (double Dy, double DyX) GradSums<TAct>(int c) where TAct : IActivationGate
        {
            float mean = Mean[c];
            var (a, b) = TAct.Active ? Affine(c) : (0f, 0f);
            Vector256<float> va = Vector256.Create(a), vb = Vector256.Create(b), vs = Vector256.Create(Slope), vMean = Vector256.Create(mean);
            double sdy = 0, sdyx = 0;
            for (int n = 0; n < N; n++)
            {
                float* x = Plane(X, n, c), dy = Plane(Dy, n, c);
                Vector256<float> accDy = Vector256<float>.Zero, accDyX = Vector256<float>.Zero;
                int i = 0;
                for (; i <= HW - 8; i += 8)
                {
                    var vx = Vector256.Load(x + i);
                    var g = TAct.Active ? TAct.Grad(Vector256.FusedMultiplyAdd(vx, va, vb), Vector256.Load(dy + i), vs) : Vector256.Load(dy + i);
                    accDy += g;
                    accDyX += g * (vx - vMean);
                }
                double planeDy = Vector256.Sum(accDy), planeDyX = Vector256.Sum(accDyX);
                for (; i < HW; i++)
                {
                    float g = TAct.Active ? TAct.Grad(MathF.FusedMultiplyAdd(x[i], a, b), dy[i], Slope) : dy[i];
                    planeDy += g;
                    planeDyX += g * (x[i] - mean);
                }
                sdy += planeDy;
                sdyx += planeDyX;
            }
            return (sdy, sdyx);
        }

        private readonly void GradInput(int c, float dbeta, float dgamma, long count)
        {
            switch (Act)
            {
                case Activation.Relu: GradInput<ReluGate>(c, dbeta, dgamma, count); break;
                case Activation.LeakyRelu: GradInput<LeakyGate>(c, dbeta, dgamma, count); break;
                default: GradInput<NoGate>(c, dbeta, dgamma, count); break;
            }
        }

        /// <summary>dx from the sums of dy (<paramref name="dbeta"/>) and dy·xhat (<paramref name="dgamma"/>) over <paramref name="count"/> samples.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly void GradInput<TAct>(int c, float dbeta, float dgamma, long count) where TAct : IActivationGate
        {
            float mean = Mean[c], invStd = InvStd[c];
            float k = Gamma[c] * invStd, meanDy = dbeta / count, xCoef = dgamma * invStd / count;
            var (a, b) = TAct.Active ? Affine(c) : (0f, 0f);
            Vector512<float> vk = Vector512.Create(k), vMeanDy = Vector512.Create(meanDy), vMean = Vector512.Create(mean), vCoef = Vector512.Create(xCoef);
            Vector512<float> va = Vector512.Create(a), vb = Vector512.Create(b), vs = Vector512.Create(Slope);
            for (int n = 0; n < N; n++)
            {
                float* x = Plane(X, n, c), dy = Plane(Dy, n, c), dx = Plane(Dx, n, c);
                int i = 0;
                for (; i <= HW - 16; i += 16)
                {
                    var vx = Vector512.Load(x + i);
                    var g = TAct.Active ? TAct.Grad(Vector512.FusedMultiplyAdd(vx, va, vb), Vector512.Load(dy + i), vs) : Vector512.Load(dy + i);
                    (vk * (g - vMeanDy - (vx - vMean) * vCoef)).Store(dx + i);
                }
                for (; i < HW; i++)
                {
                    float g = TAct.Active ? TAct.Grad(MathF.FusedMultiplyAdd(x[i], a, b), dy[i], Slope) : dy[i];
                    dx[i] = k * (g - meanDy - (x[i] - mean) * xCoef);
                }
            }
        }

        // Sum of p[i], vectorised with a fixed lane order.
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static double Sum(float* p, int n)
        {
            var acc = Vector256<float>.Zero;
            int i = 0;
            for (; i <= n - 8; i += 8) acc += Vector256.Load(p + i);
            double s = Vector256.Sum(acc);
            for (; i < n; i++) s += p[i];
            return s;
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static double SumSquaredDeviation(float* p, int n, float mean)
        {
            var acc = Vector256<float>.Zero;
            var m = Vector256.Create(mean);
            int i = 0;
            for (; i <= n - 8; i += 8)
            {
                var d = Vector256.Load(p + i) - m;
                acc += d * d;
            }
            double s = Vector256.Sum(acc);
            for (; i < n; i++) s += (p[i] - mean) * (double)(p[i] - mean);
            return s;
        }
    }
}
