using Dsl.Core;

namespace Dsl.Runtime.Cpu;

/// <summary>A convolution and what follows it in an inference plan, run as one kernel: an inference-mode batch norm
/// (its scale and shift folded into the convolution's epilogue) and its activation, and a `maxpool 2` (2x2, stride 2)
/// taken from each Winograd tile's 2x2 outputs, so that neither the full-size output nor the pooling pass touches memory.</summary>
/// <param name="Conv">Index of the convolution in the plan.</param>
/// <param name="Norm">The batch norm it absorbs, or null.</param>
/// <param name="Act">The activation it absorbs, or null.</param>
/// <param name="Pool">The max pooling it absorbs where the convolution runs as Winograd, or null.</param>
/// <param name="Unpooled">The buffer the convolution writes before any pooling: the activation's output, else the batch
/// norm's, else its own.</param>
/// <param name="Staged">The pooling's output shares arena space with the convolution's input (the planner reuses it):
/// the pooled values are written into the unpooled buffer's space first, and copied once the convolution is done.</param>
sealed record ConvFusion(int Conv, Kernel.BatchNormForward? Norm, Kernel.ActivationForward? Act, Kernel.MaxPoolForward? Pool, int Unpooled, bool Staged)
{
    /// <summary>Every such chain in <paramref name="plan"/>, by the convolution's index. A chain is fused only when its
    /// intermediate buffers are read by nothing else and the unpooled output's arena space does not overlap the
    /// convolution's input (the planner may reuse the input's space for a buffer first written two kernels later).</summary>
    public static Dictionary<int, ConvFusion> Find(Plan plan)
    {
        var found = new Dictionary<int, ConvFusion>();
        var kernels = plan.Kernels.ToArray();
        var uses = new Dictionary<int, int>();
        foreach (var k in kernels)
            foreach (var b in Dsl.Compiler.MemoryPlan.touches(k))
                uses[b] = uses.GetValueOrDefault(b) + 1;
        Kernel? At(int i) => i < kernels.Length ? kernels[i] : null;
        for (int i = 0; i < kernels.Length; i++)
        {
            if (kernels[i] is not Kernel.ConvForward conv) continue;
            int next = i + 1, output = conv.Y;
            Kernel.BatchNormForward? norm = null;
            Kernel.ActivationForward? act = null;
            if (conv.Act is null && At(next) is Kernel.BatchNormForward { Training: false } n && n.X == output && n.C == conv.G.K && uses[output] == 2)
            {
                (norm, output, next) = (n, n.Y, next + 1);
                if (At(next) is Kernel.ActivationForward a && a.X == output && uses[output] == 2) (act, output, next) = (a, a.Y, next + 1);
            }
            var pool = !plan.Mode.IsTraining && At(next) is Kernel.MaxPoolForward p && p.X == output && uses[output] == 2 && p.Y != plan.Probs &&
                       Pairs(p.P, conv.G) && Monotone(act?.Act ?? (conv.Act is null ? null : conv.Act.Value)) ? p : null;
            if ((norm is null && pool is null) || Overlap(plan, output, conv.X) || output == plan.Probs) continue;
            found[i] = new ConvFusion(i, norm, act, pool, output, pool is not null && Overlap(plan, pool.Y, conv.X));
        }
        return found;
    }

    /// <summary>A 2x2, stride 2, unpadded pooling of the whole (even-sized) output: its windows are the 2x2 output blocks
    /// a Winograd tile (2x2 or 4x4) or the direct path computes together.</summary>
    static bool Pairs(PoolGeom p, ConvGeom g) =>
        p is { R: 2, S: 2, StrideH: 2, StrideW: 2, PadH: 0, PadW: 0 } && g.Ho % 2 == 0 && g.Wo % 2 == 0 && p.Ho == g.Ho / 2 && p.Wo == g.Wo / 2;

    /// <summary>Activations after which the max of four outputs is the activation of their max, bit for bit (the
    /// identity, relu, and leaky relu with a slope of at least 0).</summary>
    static bool Monotone(Core.Activation? a) =>
        a is null || a.IsRelu || a is Core.Activation.LeakyRelu { slope: >= 0 };

    /// <summary>Whether buffers <paramref name="a"/> and <paramref name="b"/> share arena space.</summary>
    internal static bool Overlap(Plan plan, int a, int b)
    {
        if (plan.Offsets.TryFind(a) is not { } oa || plan.Offsets.TryFind(b) is not { } ob) return false;
        long a0 = oa.Value, a1 = a0 + plan.Buffers[a].Floats, b0 = ob.Value, b1 = b0 + plan.Buffers[b].Floats;
        return a0 < b1 && b0 < a1;
    }

    /// <summary>Kernels the fused convolution runs in place of (itself included).</summary>
    public int Covers => 1 + (Norm is null ? 0 : 1) + (Act is null ? 0 : 1) + (Pool is null ? 0 : 1);
}
