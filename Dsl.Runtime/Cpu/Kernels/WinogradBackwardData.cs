namespace Dsl.Runtime.Cpu;

/// <summary>The input gradient of a 3x3 or 5x5 stride-1 convolution as a forward Winograd convolution: dx is dy
/// convolved with the weights flipped in both spatial axes and with input and output channels swapped, padded by
/// r - 1 - pad (the transposed convolution of a stride-1 one is again a stride-1 convolution).</summary>
/// <remarks>The flipped weights take the front of the workspace; the forward path the rest. Its bits depend on the
/// geometry only, as the forward path's do.</remarks>
internal static unsafe partial class Winograd
{
    /// <summary>The forward geometry whose output is g's input gradient: dy [N, K, Ho, Wo] in, dx [N, C, H, W] out.</summary>
    static ConvGeometry Transposed(in ConvGeometry g) =>
        new(g.N, g.K, g.Ho, g.Wo, g.C, g.R, g.S, 1, 1, g.R - 1 - g.PadH, g.S - 1 - g.PadW, g.Groups, g.H, g.W);

    /// <summary>Floats of the flipped weights, rounded up to 16 so that the forward path's workspace after them stays aligned.</summary>
    static long FlippedFloats(in ConvGeometry g) => ((long)g.K * g.ColRows + 15) / 16 * 16;

    /// <summary>Workspace floats for <see cref="TryBackwardData"/> on g with this many threads; 0 where the path does not apply.</summary>
    public static long BackwardDataWorkspaceFloats(in ConvGeometry g, int threads) =>
        Shape(g) && Shape(Transposed(g)) && WorkspaceFloats(Transposed(g), threads) is > 0 and var forward ? FlippedFloats(g) + forward : 0;

    /// <summary>dx = conv-transpose(dy, w) (overwritten) when g suits this path and the workspace holds what it needs;
    /// false (nothing written) otherwise.</summary>
    public static bool TryBackwardData(in ConvGeometry g, float* dy, float* w, float* dx, float* workspace, long workspaceFloats)
    {
        long need = BackwardDataWorkspaceFloats(g, CpuThreads.Count);
        if (need == 0 || need > workspaceFloats) return false;
        Flip(g, w, workspace);
        var t = Transposed(g);
        long rest = workspaceFloats - FlippedFloats(g);
        return TryForward(t, dy, workspace, null, null, null, dx, Activation.None, 0f, workspace + FlippedFloats(g), rest);
    }

    /// <summary>wt[grp][c][k][r][s] = w[grp][k][c][R-1-r][S-1-s]: group grp's filters of the transposed convolution.</summary>
    static void Flip(in ConvGeometry g, float* w, float* wt)
    {
        int kg = g.GroupK, cg = g.GroupC, rs = g.R * g.S;
        for (int grp = 0; grp < g.Groups; grp++)
        for (int k = 0; k < kg; k++)
        for (int c = 0; c < cg; c++)
        {
            float* src = w + (((long)grp * kg + k) * cg + c) * rs, dst = wt + (((long)grp * cg + c) * kg + k) * rs;
            for (int i = 0; i < rs; i++) dst[i] = src[rs - 1 - i];
        }
    }
}
