using Dsl.Core;

namespace Dsl.Runtime.Cpu;

/// <summary>A batch norm and the relu (or leaky relu, slope at least 0) right after it, run as one pass in each
/// direction (<see cref="BatchNorm"/>): the forward pass stores the activation's output without the normalised values
/// going through memory, and the backward pass takes the activation's derivative from the batch norm's input, where the
/// relu's backward pass would have read its output and written the masked gradient in place.</summary>
/// <param name="Norm">The batch norm's forward kernel, whose buffers (beta among them) both passes read.</param>
/// <param name="Act">The activation the batch norm takes on.</param>
/// <param name="Backward">Null at the forward pair (the batch norm, then the activation); at the backward pair (the
/// activation's backward kernel, then the batch norm's), the batch norm's backward kernel.</param>
sealed record NormFusion(Kernel.BatchNormForward Norm, Kernel.ActivationForward Act, Kernel.BatchNormBackward? Backward)
{
    /// <summary>Every such pair in <paramref name="plan"/>, by its first kernel's index, leaving out the batch norms that
    /// <paramref name="convs"/> folds into a convolution. The forward pair is fused when nothing else touches the batch
    /// norm's output, and the activation's output shares no arena space with what the batch norm reads (but may be its
    /// input's space exactly, read and written element by element); the backward pair when it is the forward pair's, the activation's gradient is computed in place (as the compiler lowers it) and
    /// that gradient is read by nothing after the batch norm.</summary>
    public static Dictionary<int, NormFusion> Find(Plan plan, IReadOnlyDictionary<int, ConvFusion> convs)
    {
        var found = new Dictionary<int, NormFusion>();
        var kernels = plan.Kernels.ToArray();
        var touches = kernels.Select(k => Dsl.Compiler.MemoryPlan.touches(k).ToArray()).ToArray();
        // How many kernels touch each buffer, and the last that does.
        var uses = new Dictionary<int, int>();
        var last = new Dictionary<int, int>();
        for (int i = 0; i < kernels.Length; i++)
            foreach (var b in touches[i])
                (uses[b], last[b]) = (uses.GetValueOrDefault(b) + 1, i);
        var foldedNorms = convs.Values.Select(f => f.Norm).OfType<Kernel.BatchNormForward>().ToHashSet();
        var byOutput = new Dictionary<int, NormFusion>();
        for (int i = 0; i + 1 < kernels.Length; i++)
        {
            if (kernels[i] is not Kernel.BatchNormForward norm || foldedNorms.Contains(norm)) continue;
            if (kernels[i + 1] is not Kernel.ActivationForward act || act.X != norm.Y || !Gates(act.Act)) continue;
            if (uses[norm.Y] != 2) continue;
            if (touches[i].Any(b => b != norm.Y && ConvFusion.Overlap(plan, act.Y, b) && !(b == norm.X && Aliases(plan, act.Y, b)))) continue;
            byOutput[act.Y] = found[i] = new NormFusion(norm, act, null);
        }
        for (int j = 0; j + 1 < kernels.Length; j++)
        {
            if (kernels[j] is not Kernel.ActivationBackward grad || !byOutput.TryGetValue(grad.Y, out var pair) || grad.Dx != grad.Dy) continue;
            if (kernels[j + 1] is not Kernel.BatchNormBackward back || back.Dy != grad.Dx || back.X != pair.Norm.X || back.Mean != pair.Norm.Mean) continue;
            if (last[grad.Dx] != j + 1) continue;
            found[j] = pair with { Backward = back };
        }
        return found;
    }

    static bool Aliases(Plan plan, int a, int b) => plan.Offsets.TryFind(a) is { } oa && plan.Offsets.TryFind(b) is { } ob && oa.Value == ob.Value;

    /// <summary>Activations whose derivative at y follows from the sign of x (y = act(x)).</summary>
    static bool Gates(Core.Activation a) => a.IsRelu || a is Core.Activation.LeakyRelu { slope: >= 0 };
}
