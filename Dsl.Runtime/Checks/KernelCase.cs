using Dsl.Core;
using Microsoft.FSharp.Collections;
using Microsoft.FSharp.Core;

namespace Dsl.Runtime.Checks;

/// <summary>How the harness fills a buffer before a check: values in [-1, 1], values in [0.5, 1.5] (variances),
/// or class labels stored as ints; <see cref="Scratch"/> is filled as <see cref="Signed"/> and not compared: an
/// intermediate a device may keep or not (LRN's saved scale, which the CPU recomputes instead).</summary>
public enum Fill { Signed, Positive, Labels, Scratch }

/// <summary>One kernel check: a small plan whose buffers all live outside the arena, as parameters do, so the
/// harness can write every input and read every output on any device. Outputs start filled with random values
/// too, which catches a kernel that accumulates where it should overwrite.</summary>
public sealed record KernelCase(string Name, Plan Plan, IReadOnlyDictionary<int, Fill> Fills, double Tolerance)
{
    /// <summary>Set for an optimizer check: three updates run instead of the plan's kernels.</summary>
    public Optimizer? Optimizer { get; init; }
    /// <summary>The runner's <see cref="IStepRunner.FirstSample"/>: the batch as a data-parallel process's shard.</summary>
    public long FirstSample { get; init; }
}

/// <summary>Builds a case's plan one buffer at a time.</summary>
sealed class CaseBuilder(string name)
{
    readonly List<Core.Buffer> buffers = new();
    readonly Dictionary<int, Fill> fills = new();
    readonly List<ParamRef> trainable = new();
    int labels;

    public int Tensor(string tensor, long floats, Fill fill = Fill.Signed, BufferKind? kind = null)
    {
        int id = buffers.Count;
        buffers.Add(new Core.Buffer(id, tensor, floats, kind ?? BufferKind.Parameter, 0, 0));
        fills[id] = fill;
        if (fill == Fill.Labels) labels = id;
        return id;
    }

    /// <summary>A trainable tensor and its gradient, for optimizer checks.</summary>
    public void Trainable(string tensor, long floats, double lrMult = 1, double decayMult = 1)
    {
        int value = Tensor(tensor, floats), grad = Tensor(tensor + ".grad", floats, kind: BufferKind.ParameterGrad);
        trainable.Add(new ParamRef(tensor, "weight", value, grad, lrMult, decayMult));
    }

    public KernelCase Build(double tolerance, IEnumerable<Kernel> kernels, int batch = 1, int classes = 1, int probs = 0, int? classWeights = null) =>
        new(name, new Plan(name, PlanMode.Training, batch, buffers.ToArray(), ListModule.OfSeq(kernels), ListModule.OfSeq(trainable),
            0, labels, probs, classes, classWeights is int w ? Some(w) : null, MapModule.Empty<int, long>(), 0L), fills, tolerance);

    public static FSharpOption<T> Some<T>(T value) => FSharpOption<T>.Some(value);
}
