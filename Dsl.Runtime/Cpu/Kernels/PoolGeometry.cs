namespace Dsl.Runtime.Cpu;

/// <summary>Shape of 2-D pooling over x[N,C,H,W] -> y[N,C,Ho,Wo]; Ho/Wo chosen by the caller (floor or ceil mode).</summary>
public readonly record struct PoolGeometry(
    int N, int C, int H, int W, int KernelH, int KernelW,
    int StrideH, int StrideW, int PadH, int PadW, int Ho, int Wo);
