using Dsl.Core;
using Act = Dsl.Runtime.Cpu.Activation;

namespace Dsl.Runtime.Cpu;

/// <summary>Runs a plan's kernels on the CPU over one preallocated arena: nothing is allocated per step.</summary>
sealed unsafe class CpuStepRunner : IStepRunner
{
    readonly CpuBuffer arena, workspace, folded;
    readonly long workspaceFloats;
    readonly Kernel[] kernels;
    readonly Dictionary<int, ConvFusion> fusions;
    readonly Dictionary<int, NormFusion> normFusions;
    readonly Dictionary<int, PreparedWeights> prepared = new();
    readonly float*[] pointers;
    readonly ulong seed;
    readonly List<ParamUpdate> updates = new();
    readonly float* classWeights;
    readonly bool winograd;

    /// <summary>Stops before the arena is allocated when it and the workspace do not fit in the memory left after the
    /// parameters, saying what batch would, in the words the CUDA and OpenCL devices use.</summary>
    static void CheckMemory(CpuDevice device, Plan plan, int stateSlots, long workspaceBytes)
    {
        long arenaBytes = plan.ArenaFloats * sizeof(float), room = device.Room();
        if (arenaBytes + workspaceBytes <= room) return;
        long total = StepArithmetic.TotalBytes(plan, stateSlots) + workspaceBytes;
        int fits = StepArithmetic.LargestBatch(room - workspaceBytes, arenaBytes, plan.Batch);
        throw new DeviceException($"CPU: {(plan.Mode.IsTraining ? "a training" : "an inference")} step of {plan.Network} at batch {plan.Batch} needs " +
            $"{DeviceMemory.Mib(total)} ({DeviceMemory.Mib(arenaBytes + workspaceBytes)} for the batch's tensors and workspace, {DeviceMemory.Mib(total - arenaBytes - workspaceBytes)} for parameters and optimizer state), " +
            $"and {DeviceMemory.Mib(Math.Max(0, room))} of memory is available after the parameters; " +
            (fits >= 1 ? StepArithmetic.FitAdvice(fits) : "not even a batch of 1 fits in this machine's memory"));
    }

    public CpuStepRunner(CpuDevice device, Plan plan, ParameterSet parameters)
    {
        Plan = plan;
        seed = (ulong)parameters.Seed;
        winograd = !plan.Mode.IsTraining || device.TrainingWinograd;
        long work = plan.Kernels.Select(k => k switch
        {
            Kernel.ConvForward c when !plan.Mode.IsTraining => Conv.ForwardWorkspaceFloats(Geometry(c.G), CpuThreads.Count),
            Kernel.ConvForward c => Conv.WorkspaceFloats(Geometry(c.G)),
            Kernel.ConvBackwardData c => Conv.WorkspaceFloats(Geometry(c.G)),
            Kernel.ConvBackwardFilter c => Conv.WorkspaceFloats(Geometry(c.G)),
            _ => 0L,
        }).DefaultIfEmpty(0L).Max();
        workspaceFloats = work;
        // An inference plan keeps its convolutions' and dense layers' weights packed (or Winograd-transformed) between calls.
        var kept = plan.Mode.IsTraining ? [] : plan.Kernels.Select((k, i) => (k, i, Floats: PreparedFloats(k))).Where(p => p.Floats > 0).ToList();
        CheckMemory(device, plan, parameters.StateSlotsHeld, (work + kept.Sum(p => p.Floats)) * sizeof(float));
        arena = (CpuBuffer)device.Allocate(plan.ArenaFloats, plan.Network + ".arena");
        workspace = (CpuBuffer)device.Allocate(work, plan.Network + ".workspace");
        pointers = new float*[plan.Buffers.Length];
        foreach (var b in plan.Buffers)
        {
            if (plan.Offsets.TryFind(b.Id) is { } offset) pointers[b.Id] = arena.Pointer + offset.Value;
            else if (parameters.Contains(b.Name)) pointers[b.Id] = ((CpuBuffer)parameters[b.Name]).Pointer;
        }
        if (plan.Mode.IsTraining)
            foreach (var p in plan.Params)
            {
                var name = plan.Buffers[p.Value].Name;
                float* State(string slot) => parameters.Contains(name + slot) ? ((CpuBuffer)parameters[name + slot]).Pointer : null;
                updates.Add(new ParamUpdate((CpuBuffer)parameters[name], pointers[p.Value], pointers[p.Grad], plan.Buffers[p.Value].Floats,
                    State(ParameterSet.OptimizerSlots[0]), State(ParameterSet.OptimizerSlots[1]), (float)p.LrMult, (float)p.DecayMult));
            }
        classWeights = plan.ClassWeights is null ? null : pointers[plan.ClassWeights.Value];
        kernels = plan.Kernels.ToArray();
        fusions = ConvFusion.Find(plan);
        normFusions = NormFusion.Find(plan, fusions);
        folded = (CpuBuffer)device.Allocate(2L * fusions.Values.Select(f => f.Norm?.C ?? 0).DefaultIfEmpty(0).Max(), plan.Network + ".folded-batchnorm");
        try
        {
            foreach (var (k, i, floats) in kept)
            {
                var name = plan.Buffers[k is Kernel.ConvForward c ? c.W : ((Kernel.DenseForward)k).W].Name;
                prepared[i] = new PreparedWeights((CpuBuffer)parameters[name], (CpuBuffer)device.Allocate(floats, name + ".prepared"));
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    static long PreparedFloats(Kernel k) => k switch
    {
        Kernel.ConvForward c => Conv.PreparedFloats(Geometry(c.G)),
        Kernel.DenseForward d => Dense.PreparedFloats(d.N, d.In, d.Out),
        _ => 0,
    };

    /// <summary>The prepared form of a kernel's weights, made again when the weights or the thread count changed; null
    /// where none is kept.</summary>
    float* Prepared(int index, Kernel kernel)
    {
        if (!prepared.TryGetValue(index, out var p)) return null;
        if (p.Version != p.Source.Version || p.Threads != CpuThreads.Count)
        {
            if (kernel is Kernel.ConvForward c) Conv.Prepare(Geometry(c.G), p.Source.Pointer, p.Buffer.Pointer, workspace.Pointer, workspaceFloats);
            else if (kernel is Kernel.DenseForward d) Dense.Prepare(d.In, d.Out, p.Source.Pointer, p.Buffer.Pointer);
            p.Version = p.Source.Version;
            p.Threads = CpuThreads.Count;
        }
        return p.Buffer.Pointer;
    }

    /// <summary>A batch norm in inference mode folded into the convolution before it: per channel, the scale
    /// gamma / sqrt(var + eps) and the shift beta - mean * scale (plus the convolution's bias times the scale).</summary>
    void Fold(Kernel.BatchNormForward n, float* convBias, float* scale, float* shift)
    {
        float* gamma = P(n.Gamma), beta = P(n.Beta), mean = P(n.RunningMean), variance = P(n.RunningVar);
        for (int c = 0; c < n.C; c++)
        {
            var (a, b) = BatchNorm.InferenceAffine(gamma[c], beta[c], mean[c], variance[c], (float)n.Spec.Eps);
            scale[c] = a;
            shift[c] = convBias == null ? b : MathF.FusedMultiplyAdd(convBias[c], a, b);
        }
    }

    public void Update(Optimizer optimizer, double learningRate, long t)
    {
        foreach (var u in updates)
        {
            float* w = u.W, g = u.G, s1 = u.S1, s2 = u.S2;
            long n = u.N;
            float lr = (float)learningRate * u.LrMult;
            switch (optimizer)
            {
                case Optimizer.Sgd o: Optimizers.Sgd(n, w, g, s1, lr, (float)o.momentum, (float)o.weightDecay * u.DecayMult, o.nesterov); break;
                case Optimizer.Adam o: Optimizers.Adam(n, w, g, s1, s2, lr, (float)o.beta1, (float)o.beta2, (float)o.eps, (float)o.weightDecay * u.DecayMult, t); break;
                case Optimizer.RmsProp o: Optimizers.RmsProp(n, w, g, s1, lr, (float)o.rho, (float)o.eps, (float)o.weightDecay * u.DecayMult, (float)o.momentum, s2); break;
            }
            u.Weight.Written();
        }
    }

    public Plan Plan { get; }
    public double[]? KernelSeconds { get; set; }

    public long FirstSample { get; set; }

    /// <summary>Called with each kernel's index once it has finished (its outputs are written): a data-parallel job
    /// starts a gradient bucket's allreduce as soon as the backward pass has finished its gradients.</summary>
    public Action<int>? KernelDone { get; set; }

    /// <summary>Set for a data-parallel job with synchronised batch norm: each training batch norm takes its statistics over
    /// the samples of all <c>Processes</c>, summed by <c>Sum</c> (PyTorch's SyncBatchNorm); null: over this batch.</summary>
    public (int Processes, SumOverProcesses Sum)? SyncBatchNorm
    {
        get => syncBatchNorm;
        set
        {
            syncBatchNorm = value;
            syncStats = new double[2 * kernels.OfType<Kernel.BatchNormForward>().Select(k => k.C).DefaultIfEmpty(0).Max()];
        }
    }

    (int Processes, SumOverProcesses Sum)? syncBatchNorm;
    double[] syncStats = [];

    public void SetBatch(ReadOnlySpan<float> images, ReadOnlySpan<int> labels)
    {
        images.CopyTo(new Span<float>(pointers[Plan.Images], images.Length));
        labels.CopyTo(new Span<int>(pointers[Plan.Labels], labels.Length));
    }

    public void ReadProbabilities(Span<float> destination) =>
        new ReadOnlySpan<float>(pointers[Plan.Probs], destination.Length).CopyTo(destination);

    float* P(int id) => pointers[id];
    float* P(Microsoft.FSharp.Core.FSharpOption<int>? id) => id is null ? null : pointers[id.Value];

    /// <summary>A max pool's winner indices, for the gradient: none in inference, which only costs their writes.</summary>
    int* Argmax(int id) => Plan.Mode.IsTraining ? (int*)pointers[id] : null;

    public double Run(long step)
    {
        double loss = double.NaN;
        float* ws = workspace.Pointer;
        int index = 0, covered = 0;
        double started = ProfileClock();
        foreach (var kernel in kernels)
        {
            if (index > 0) KernelDone?.Invoke(index - 1);
            if (KernelSeconds is { } times)
            {
                double now = ProfileClock();
                if (index > 0) times[index - 1] += now - started;
                started = now;
            }
            if (covered > 0)
            {
                covered--; // run by the fused kernel before it
                index++;
                continue;
            }
            if (fusions.TryGetValue(index++, out var fusion))
            {
                var k = (Kernel.ConvForward)kernel;
                float* scale = null, shift = P(k.Bias);
                if (fusion.Norm is { } norm)
                {
                    scale = folded.Pointer;
                    shift = scale + norm.C;
                    Fold(norm, P(k.Bias), scale, shift);
                }
                var (fa, fp) = fusion.Act is { } act ? Map(act.Act) : Fused(k.Act);
                var fg = Geometry(k.G);
                var pool = fusion.Pool;
                float* pooledAt = pool is null ? null : fusion.Staged ? P(fusion.Unpooled) : P(pool.Y);
                bool pooled = Conv.Forward(fg, P(k.X), P(k.W), shift, P(fusion.Unpooled), fa, fp, ws, workspaceFloats, scale, Prepared(index - 1, kernel), pooledAt);
                if (pooled && fusion.Staged) Ops.Copy(pooledAt, P(pool!.Y), Plan.Buffers[pool.Y].Floats);
                // Where the convolution did not take the Winograd path, the pooling runs after it as usual.
                if (pool is not null && !pooled) Pool.MaxForward(Geometry(pool.P), P(fusion.Unpooled), P(pool.Y), Argmax(pool.Argmax));
                covered = fusion.Covers - 1;
                continue;
            }
            if (normFusions.TryGetValue(index - 1, out var pair))
            {
                var (na, np) = Map(pair.Act.Act);
                if (pair.Backward is { } back) NormBackward(back, pair.Norm, na, np);
                else NormForward(pair.Norm, P(pair.Act.Y), na, np);
                covered = 1;
                continue;
            }
            switch (kernel)
            {
                case Kernel.ConvForward k:
                    var (fa, fp) = Fused(k.Act);
                    var cg = Geometry(k.G);
                    Conv.Forward(cg, P(k.X), P(k.W), P(k.Bias), P(k.Y), fa, fp, ws, workspaceFloats, null, Prepared(index - 1, kernel), winograd: winograd);
                    break;
                case Kernel.ConvBackwardData k: Conv.BackwardData(Geometry(k.G), P(k.Dy), P(k.W), P(k.Dx), ws, workspaceFloats, winograd); break;
                case Kernel.ConvBackwardFilter k: Conv.BackwardFilter(Geometry(k.G), P(k.X), P(k.Dy), P(k.Dw), P(k.Dbias), ws, workspaceFloats, winograd); break;
                case Kernel.DenseForward k:
                    var (da, dp) = Fused(k.Act);
                    Dense.Forward(k.N, k.In, k.Out, P(k.X), P(k.W), P(k.Bias), P(k.Y), da, dp, Prepared(index - 1, kernel));
                    break;
                case Kernel.DenseBackwardData k: Dense.BackwardData(k.N, k.In, k.Out, P(k.Dy), P(k.W), P(k.Dx)); break;
                case Kernel.DenseBackwardWeights k: Dense.BackwardWeights(k.N, k.In, k.Out, P(k.X), P(k.Dy), P(k.Dw), P(k.Dbias)); break;
                case Kernel.ActivationForward k:
                    var (aa, ap) = Map(k.Act);
                    Activations.Forward(aa, ap, P(k.X), P(k.Y), k.Count);
                    break;
                case Kernel.ActivationBackward k:
                    var (ba, bp) = Map(k.Act);
                    Activations.Backward(ba, bp, P(k.Y), P(k.Dy), P(k.Dx), k.Count);
                    break;
                case Kernel.MaxPoolForward k: Pool.MaxForward(Geometry(k.P), P(k.X), P(k.Y), Argmax(k.Argmax)); break;
                case Kernel.MaxPoolBackward k: Pool.MaxBackward(Geometry(k.P), P(k.Dy), (int*)P(k.Argmax), P(k.Dx)); break;
                case Kernel.AvgPoolForward k: Pool.AvgForward(Geometry(k.P), P(k.X), P(k.Y)); break;
                case Kernel.AvgPoolBackward k: Pool.AvgBackward(Geometry(k.P), P(k.Dy), P(k.Dx)); break;
                case Kernel.LrnForward k:
                    // The plan's scale buffer is left alone: the gradient recomputes the scale (see Lrn).
                    Lrn.Forward(k.N, k.C, k.H, k.W, k.Spec.Size, (float)k.Spec.Alpha, (float)k.Spec.Beta, (float)k.Spec.K, P(k.X), P(k.Y));
                    break;
                case Kernel.LrnBackward k:
                    Lrn.Backward(k.N, k.C, k.H, k.W, k.Spec.Size, (float)k.Spec.Alpha, (float)k.Spec.Beta, (float)k.Spec.K, P(k.X), P(k.Dy), P(k.Dx));
                    break;
                case Kernel.DropoutForward k:
                    Dropout.Forward(k.Count, (float)k.Rate, seed * 1000003UL + (ulong)k.Layer, step, P(k.X), P(k.Y), P(k.Mask), FirstSample * (k.Count / Plan.Batch));
                    break;
                case Kernel.DropoutBackward k: Dropout.Backward(k.Count, P(k.Mask), P(k.Dy), P(k.Dx)); break;
                case Kernel.BatchNormForward k: NormForward(k, P(k.Y), Act.None, 0f); break;
                case Kernel.BatchNormBackward k: NormBackward(k, null, Act.None, 0f); break;
                case Kernel.SoftmaxCrossEntropy k:
                    loss = SoftmaxCrossEntropy.Forward(k.N, k.Classes, P(k.Logits), (int*)P(k.Labels), classWeights, P(k.Probs));
                    if (k.Dlogits is not null) SoftmaxCrossEntropy.Backward(k.N, k.Classes, P(k.Probs), (int*)P(k.Labels), classWeights, P(k.Dlogits));
                    break;
                default: throw new NotSupportedException($"the CPU device has no implementation of {kernel.GetType().Name}");
            }
        }
        if (KernelSeconds is { } last && index > 0) last[index - 1] += ProfileClock() - started;
        if (index > 0) KernelDone?.Invoke(index - 1);
        return loss;
    }

    /// <summary>A batch norm's forward pass, writing <paramref name="y"/> through the activation it takes on (if any).</summary>
    void NormForward(Kernel.BatchNormForward k, float* y, Act act, float slope)
    {
        if (!k.Training)
            BatchNorm.ForwardInference(k.N, k.C, k.HW, P(k.X), P(k.Gamma), P(k.Beta), y, P(k.RunningMean), P(k.RunningVar), (float)k.Spec.Eps, act, slope);
        else if (syncBatchNorm is { } sync)
            fixed (double* stats = syncStats)
                BatchNorm.ForwardTrainingSynced(k.N, k.C, k.HW, P(k.X), P(k.Gamma), P(k.Beta), y, P(k.Mean), P(k.InvStd),
                    P(k.RunningMean), P(k.RunningVar), (float)k.Spec.Momentum, (float)k.Spec.Eps, sync.Processes, stats, sync.Sum, act, slope);
        else
            BatchNorm.ForwardTraining(k.N, k.C, k.HW, P(k.X), P(k.Gamma), P(k.Beta), y, P(k.Mean), P(k.InvStd),
                P(k.RunningMean), P(k.RunningVar), (float)k.Spec.Momentum, (float)k.Spec.Eps, act, slope);
    }

    /// <summary>A batch norm's backward pass; with an activation, its dy is the gradient of the activation's output, and
    /// <paramref name="forward"/> gives the beta that recomputes the activation's input.</summary>
    void NormBackward(Kernel.BatchNormBackward k, Kernel.BatchNormForward? forward, Act act, float slope)
    {
        float* beta = forward is null ? null : P(forward.Beta);
        if (syncBatchNorm is { } sync)
            fixed (double* stats = syncStats)
                BatchNorm.BackwardSynced(k.N, k.C, k.HW, P(k.X), P(k.Dy), P(k.Gamma), P(k.Mean), P(k.InvStd), P(k.Dx), P(k.Dgamma), P(k.Dbeta),
                    sync.Processes, stats, sync.Sum, beta, act, slope);
        else
            BatchNorm.Backward(k.N, k.C, k.HW, P(k.X), P(k.Dy), P(k.Gamma), P(k.Mean), P(k.InvStd), P(k.Dx), P(k.Dgamma), P(k.Dbeta), beta, act, slope);
    }

    /// <summary>The profile's clock: on one thread, where the caller does all the work, its CPU time (which a loaded
    /// machine's preemptions do not inflate); on more, wall time.</summary>
    static double ProfileClock() =>
        CpuThreads.Count == 1 ? ThreadClock.Seconds() : System.Diagnostics.Stopwatch.GetTimestamp() / (double)System.Diagnostics.Stopwatch.Frequency;

    static (Act, float) Map(Core.Activation a) => a switch
    {
        { IsRelu: true } => (Act.Relu, 0f),
        Core.Activation.LeakyRelu l => (Act.LeakyRelu, (float)l.slope),
        { IsTanh: true } => (Act.Tanh, 0f),
        _ => (Act.Sigmoid, 0f),
    };

    static (Act, float) Fused(Microsoft.FSharp.Core.FSharpOption<Core.Activation>? a) => a is null ? (Act.None, 0f) : Map(a.Value);

    static ConvGeometry Geometry(ConvGeom g) => ConvGeometry.Of(g);

    static PoolGeometry Geometry(PoolGeom g) => PoolGeometry.Of(g);

    public void Dispose()
    {
        arena?.Dispose();
        workspace?.Dispose();
        folded?.Dispose();
        foreach (var p in prepared.Values) p.Buffer.Dispose();
    }
}

/// <summary>A layer's weights as its kernel multiplies by them, and the version of the weights they came from.</summary>
sealed class PreparedWeights(CpuBuffer source, CpuBuffer buffer)
{
    public readonly CpuBuffer Source = source, Buffer = buffer;
    public long Version = -1;
    public int Threads;
}

/// <summary>A trainable tensor (its buffer, told of each update, and pointer), its gradient and its optimiser state as
/// pointers, and its learning-rate and decay factors.</summary>
readonly unsafe struct ParamUpdate(CpuBuffer weight, float* w, float* g, long n, float* s1, float* s2, float lrMult, float decayMult)
{
    public readonly CpuBuffer Weight = weight;
    public readonly float* W = w, G = g, S1 = s1, S2 = s2;
    public readonly long N = n;
    public readonly float LrMult = lrMult, DecayMult = decayMult;
}
