namespace Dsl.Runtime.Cpu;

/// <summary>Shape of 2-D pooling over x[N,C,H,W] -> y[N,C,Ho,Wo]; Ho/Wo chosen by the caller (floor or ceil mode).</summary>
public readonly record struct PoolGeometry(
    int N, int C, int H, int W, int KernelH, int KernelW,
    int StrideH, int StrideW, int PadH, int PadW, int Ho, int Wo)
{
    /// <summary>The plan's geometry.</summary>
    public static PoolGeometry Of(Core.PoolGeom g) => new(g.N, g.C, g.H, g.W, g.R, g.S, g.StrideH, g.StrideW, g.PadH, g.PadW, g.Ho, g.Wo);
}
