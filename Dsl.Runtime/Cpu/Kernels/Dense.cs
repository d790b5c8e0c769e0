using System;
using System.Numerics.Tensors;

namespace Dsl.Runtime.Cpu;

/// <summary>Fully connected layer y[n,outF] = act(x[n,inF] * w[outF,inF]^T + bias).</summary>
public static unsafe class Dense
{
    /// <summary>y = act(x * w^T + bias); bias may be null. With <paramref name="prepared"/> (from <see cref="Prepare"/>),
    /// w itself is not read.</summary>
    public static void Forward(int n, int inF, int outF, float* x, float* w, float* bias, float* y, Activation act, float actParam,
        float* prepared = null)
    {
        if (n <= Gemv.MaxSamples) Gemv.Forward(n, inF, outF, x, w, bias, y, act, actParam);
        else Gemm.Run(new PackedA(false, x, inF, null), true, n, outF, inF, 1f, w, inF, 0f, y, outF, new GemmEpilogue(null, bias, act, actParam),
            packedB: prepared);
    }

    /// <summary>Floats of the weights <see cref="Prepare"/> writes for a batch of n: w^T in GEMM panels, which the GEMM
    /// would otherwise transpose and pack on every call (lenet's dense1 at batch 64: a third of its time); none at the
    /// few samples that take the dot-product path.</summary>
    public static long PreparedFloats(int n, int inF, int outF) => n <= Gemv.MaxSamples ? 0 : Gemm.PackedFloatsB(outF, inF);

    /// <summary>Writes w in the form <see cref="Forward"/> multiplies by (<see cref="PreparedFloats"/> floats, 64-byte
    /// aligned).</summary>
    public static void Prepare(int inF, int outF, float* w, float* prepared) => Gemm.PackB(true, w, inF, inF, outF, prepared);

    /// <summary>dx = dy * w (overwrites dx).</summary>
    public static void BackwardData(int n, int inF, int outF, float* dy, float* w, float* dx) =>
        Gemm.Sgemm(false, false, n, inF, outF, 1f, dy, outF, w, inF, 0f, dx, inF);

    /// <summary>dw = dy^T * x and dbias = column sums of dy (both overwritten; dbias may be null).</summary>
    public static void BackwardWeights(int n, int inF, int outF, float* x, float* dy, float* dw, float* dbias)
    {
        Gemm.Sgemm(true, false, outF, inF, n, 1f, dy, outF, x, inF, 0f, dw, inF);
        if (dbias == null) return;
        var db = new Span<float>(dbias, outF);
        db.Clear();
        for (int i = 0; i < n; i++)
            TensorPrimitives.Add(db, new ReadOnlySpan<float>(dy + (long)i * outF, outF), db);
    }
}
