using Dsl.Core;

namespace Dsl.Runtime.Cpu;

/// <summary>A convolution whose output goes only through an inference-mode batch norm (and maybe an activation): one
/// pass that scales and shifts each channel in the convolution's epilogue, instead of two or three passes over memory.</summary>
/// <param name="Conv">Index of the convolution in the plan.</param>
/// <param name="Norm">The batch norm it absorbs.</param>
/// <param name="Act">The activation it absorbs, or null.</param>
/// <param name="Output">The buffer the fused kernel writes: the activation's output, else the batch norm's.</param>
sealed record ConvBatchNormFusion(int Conv, Kernel.BatchNormForward Norm, Kernel.ActivationForward? Act, int Output)
{
    /// <summary>Every such chain in <paramref name="plan"/>, by the convolution's index. A chain is fused only when its
    /// intermediate buffers are read by nothing else and its output's arena space does not overlap the convolution's
    /// input (the planner may reuse the input's space for a buffer first written two kernels later).</summary>
    public static Dictionary<int, ConvBatchNormFusion> Find(Plan plan)
    {
        var found = new Dictionary<int, ConvBatchNormFusion>();
        var kernels = plan.Kernels.ToArray();
        var uses = new Dictionary<int, int>();
        foreach (var k in kernels)
            foreach (var b in Dsl.Compiler.MemoryPlan.touches(k))
                uses[b] = uses.GetValueOrDefault(b) + 1;
        for (int i = 0; i + 1 < kernels.Length; i++)
        {
            if (kernels[i] is not Kernel.ConvForward { Act: null } conv
                || kernels[i + 1] is not Kernel.BatchNormForward { Training: false } norm
                || norm.X != conv.Y || norm.C != conv.G.K || uses[conv.Y] != 2)
                continue;
            var act = i + 2 < kernels.Length && kernels[i + 2] is Kernel.ActivationForward a && a.X == norm.Y && uses[norm.Y] == 2 ? a : null;
            int output = act?.Y ?? norm.Y;
            if (!Overlap(plan, output, conv.X) && output != plan.Probs)
                found[i] = new ConvBatchNormFusion(i, norm, act, output);
        }
        return found;
    }

    static bool Overlap(Plan plan, int a, int b)
    {
        if (plan.Offsets.TryFind(a) is not { } oa || plan.Offsets.TryFind(b) is not { } ob) return false;
        long a0 = oa.Value, a1 = a0 + plan.Buffers[a].Floats, b0 = ob.Value, b1 = b0 + plan.Buffers[b].Floats;
        return a0 < b1 && b0 < a1;
    }

    /// <summary>Kernels the fused convolution runs in place of.</summary>
    public int Covers => Act is null ? 2 : 3;
}
