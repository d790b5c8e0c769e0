using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Dsl.Runtime.Cpu;

/// <summary>Scale, bias and activation applied to each finished tile of C while it is still in cache: act(C * rowScale +
/// rowBias + colBias), each part optional (a folded inference batch norm is the row scale and bias).</summary>
internal readonly unsafe struct GemmEpilogue(float* rowBias, float* colBias, Activation act, float actParam, float* rowScale = null)
{
    public readonly float* RowBias = rowBias, ColBias = colBias, RowScale = rowScale;
    public readonly Activation Act = act;
    public readonly float ActParam = actParam;
    public bool IsNone => RowBias == null && ColBias == null && RowScale == null && Act == Activation.None;

    /// <summary>Whether the activation is applied in the same pass as scale and bias (<see cref="Fuse"/>); others
    /// follow as <see cref="Activations.Apply"/> on the result.</summary>
    public bool FusesActivation => Act is Activation.None or Activation.Relu or Activation.LeakyRelu;

    /// <summary>act(v * scale + bias) for row <paramref name="i"/> of a kernel that keeps its results in registers: the
    /// bits of <see cref="Apply"/>'s vector loop, before an unfused activation.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Fuse(Vector512<float> v, int i)
    {
        v = Vector512.FusedMultiplyAdd(v, Vector512.Create(RowScale == null ? 1f : RowScale[i]), Vector512.Create(RowBias == null ? 0f : RowBias[i]));
        if (Act == Activation.Relu) return Vector512.Max(v, Vector512<float>.Zero);
        if (Act == Activation.LeakyRelu) return Vector512.ConditionalSelect(Vector512.GreaterThan(v, Vector512<float>.Zero), v, v * Vector512.Create(ActParam));
        return v;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Apply(float* c, int ldc, int i0, int j0, int rows, int cols)
    {
        const int W = 8;
        bool fused = Act is Activation.None or Activation.Relu or Activation.LeakyRelu;
        var slope = Vector256.Create(Act == Activation.LeakyRelu ? ActParam : 1f);
        bool relu = Act == Activation.Relu;
        for (int i = 0; i < rows; i++)
        {
            float* ci = c + (long)i * ldc;
            float* cb = ColBias == null ? null : ColBias + j0;
            var rb = Vector256.Create(RowBias == null ? 0f : RowBias[i0 + i]);
            // c * 1 + b rounds once, exactly as c + b: no scale costs no bits.
            var rs = Vector256.Create(RowScale == null ? 1f : RowScale[i0 + i]);
            // One pass over the cache-hot tile: bias, then the rectifier (a sign select; slope 1 is identity).
            int j = 0;
            for (; j <= cols - W; j += W)
            {
                var v = Vector256.FusedMultiplyAdd(Vector256.Load(ci + j), rs, rb);
                if (cb != null) v += Vector256.Load(cb + j);
                if (relu) v = Vector256.Max(v, Vector256<float>.Zero);
                else if (fused) v = Vector256.ConditionalSelect(Vector256.GreaterThan(v, Vector256<float>.Zero), v, v * slope);
                Vector256.Store(v, ci + j);
            }
            for (; j < cols; j++)
            {
                float v = MathF.FusedMultiplyAdd(ci[j], rs.ToScalar(), rb.ToScalar()) + (cb == null ? 0f : cb[j]);
                ci[j] = relu ? MathF.Max(v, 0f) : fused && !(v > 0f) ? v * slope.ToScalar() : v;
            }
            if (!fused) Activations.Apply(Act, ActParam, ci, ci, cols);
        }
    }
}
