namespace Dsl.Runtime.Cpu;

/// <summary>Shape of a 2-D convolution: x[N,C,H,W] * w[K,C/Groups,R,S] -> y[N,K,Ho,Wo]; Ho/Wo chosen by the caller.</summary>
public readonly record struct ConvGeometry(
    int N, int C, int H, int W, int K, int R, int S,
    int StrideH, int StrideW, int PadH, int PadW, int Groups, int Ho, int Wo)
{
    /// <summary>Input channels per group.</summary>
    public int GroupC => C / Groups;

    /// <summary>Output channels per group.</summary>
    public int GroupK => K / Groups;

    /// <summary>Rows of the im2col matrix (GroupC * R * S).</summary>
    public int ColRows => GroupC * R * S;

    /// <summary>1x1, stride 1, no padding: the input already is the im2col matrix.</summary>
    public bool IsPointwise => R == 1 && S == 1 && StrideH == 1 && StrideW == 1 && PadH == 0 && PadW == 0 && Ho == H && Wo == W;

    /// <summary>The plan's geometry.</summary>
    public static ConvGeometry Of(Core.ConvGeom g) =>
        new(g.N, g.C, g.H, g.W, g.K, g.R, g.S, g.StrideH, g.StrideW, g.PadH, g.PadW, g.Groups, g.Ho, g.Wo);
}
