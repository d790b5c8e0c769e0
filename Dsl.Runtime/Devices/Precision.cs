namespace Dsl.Runtime;

/// <summary>How the products inside convolutions and dense layers are computed, on devices that offer a choice.</summary>
public enum Precision
{
    /// <summary>TF32 tensor cores where the device has them (CUDA compute capability 8.0 and above), as cuDNN does by default:
    /// inputs rounded to 10-bit mantissas, sums in FP32. Plain FP32 elsewhere.</summary>
    Default,

    /// <summary>Plain FP32 arithmetic on every device (`--precision fp32`).</summary>
    Fp32,
}
