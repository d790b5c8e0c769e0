using Dsl.Compiler;
using Dsl.Compiler.Render;
using Dsl.Core;

namespace Dsl.Runtime;

/// <summary>Host-side arithmetic every generated-kernel runner (OpenCL, CUDA) shares: memory a step needs and the
/// batch that would fit, the per-step scalars of an optimizer update, and the batch's mean loss.</summary>
public static class StepArithmetic
{
    /// <summary>Bytes a step needs on a device: the plan's buffers plus, in training, <paramref name="stateSlots"/> optimizer
    /// state tensors per parameter (<see cref="ParameterSet.StateSlots"/>).</summary>
    public static long TotalBytes(Plan plan, int stateSlots) =>
        MemoryPlan.deviceBytes(plan) + (plan.Mode.IsTraining ? plan.Params.Sum(p => stateSlots * plan.Buffers[p.Value].Floats) * sizeof(float) : 0);

    /// <summary>The largest batch below <paramref name="batch"/> whose arena fits in <paramref name="arenaRoom"/> bytes, given the
    /// arena takes <paramref name="arenaBytes"/> at <paramref name="batch"/> (the arena grows with the batch; parameters and
    /// optimizer state do not); 0 when not even one example fits.</summary>
    public static int LargestBatch(long arenaRoom, long arenaBytes, int batch)
    {
        if (arenaRoom <= 0 || batch <= 0) return 0;
        double perExample = (double)arenaBytes / batch;
        return (int)Math.Min(batch - 1, Math.Floor(arenaRoom / perExample));
    }

    /// <summary>The generated kernels index with 32-bit integers, so a step's arena holds at most 2^31 - 1 floats.</summary>
    public const long IndexableBytes = (long)int.MaxValue * sizeof(float);

    /// <summary>Why a plan's arena is past what generated kernels can index, with the batch that would fit; null where it fits.
    /// On a large GPU this, not the device's memory, is what bounds the batch.</summary>
    public static string? IndexLimit(Plan plan)
    {
        long arenaBytes = plan.ArenaFloats * sizeof(float);
        if (arenaBytes <= IndexableBytes) return null;
        return $"a {(plan.Mode.IsTraining ? "training" : "inference")} step of {plan.Network} at batch {plan.Batch} needs {DeviceMemory.Mib(arenaBytes)} " +
            $"in one arena, and the generated kernels index it with 32-bit integers (at most {DeviceMemory.Mib(IndexableBytes)}); " +
            FitAdvice(LargestBatch(IndexableBytes, arenaBytes, plan.Batch));
    }

    /// <summary>The advice that ends an out-of-memory message.</summary>
    public static string FitAdvice(int fits) =>
        fits >= 1 ? $"a batch of {fits} would fit (--batch {fits})" : "the parameters alone do not fit; use the CPU device (--device cpu)";

    /// <summary>The value of a per-tensor, per-step float argument of an update kernel, in the CPU device's precision
    /// (Cpu/CpuStepRunner.cs, Cpu/Kernels/Optimizers.cs); null for arguments that are not such scalars.</summary>
    public static float? UpdateScalar(CStyle.Arg arg, Optimizer optimizer, double learningRate, ParamRef p, long t)
    {
        var (lr, wd) = Scaled(optimizer, learningRate, p);
        if (arg.IsLearningRate) return lr;
        if (arg.IsWeightDecay) return wd;
        if (arg.IsAdamStepSize && optimizer is Optimizer.Adam adam) return AdamStepSize(lr, adam, t);
        if (arg.IsAdamInvSqrtBias2 && optimizer is Optimizer.Adam adam2) return AdamInvSqrtBias2(adam2, t);
        return null;
    }

    /// <summary>The learning rate and the weight decay of one tensor: the optimizer's, times the tensor's factors.</summary>
    public static (float Lr, float Wd) Scaled(Optimizer optimizer, double learningRate, ParamRef p)
    {
        var decay = optimizer switch { Optimizer.Sgd o => o.weightDecay, Optimizer.Adam o => o.weightDecay, Optimizer.RmsProp o => o.weightDecay, _ => 0.0 };
        return ((float)learningRate * (float)p.LrMult, (float)decay * (float)p.DecayMult);
    }

    /// <summary>Adam's step size at update t: lr / (1 - beta1^t).</summary>
    public static float AdamStepSize(float lr, Optimizer.Adam adam, long t) => (float)(lr / (1 - Math.Pow(adam.beta1, t)));

    /// <summary>Adam's second bias correction at update t: 1 / sqrt(1 - beta2^t).</summary>
    public static float AdamInvSqrtBias2(Optimizer.Adam adam, long t) => (float)(1 / Math.Sqrt(1 - Math.Pow(adam.beta2, t)));

    /// <summary>Refuses a label outside [0, classes) before a runner uploads it: a GPU kernel would read past the
    /// logits instead of failing. <paramref name="parameter"/> names the caller's argument.</summary>
    public static void CheckLabels(ReadOnlySpan<int> labels, int classes, string parameter)
    {
        for (int i = 0; i < labels.Length; i++)
            if ((uint)labels[i] >= (uint)classes)
                throw new ArgumentOutOfRangeException(parameter, $"label {labels[i]} of sample {i} is not in [0, {classes})");
    }

    /// <summary>The batch's mean loss from the runner's losses buffer (batch weighted losses, then batch weights): the
    /// ratio of their sums, taken in double as the CPU device does.</summary>
    public static double MeanLoss(ReadOnlySpan<float> perExample, int batch)
    {
        double loss = 0, weight = 0;
        for (int i = 0; i < batch; i++) { loss += perExample[i]; weight += perExample[batch + i]; }
        return loss / weight;
    }
}
