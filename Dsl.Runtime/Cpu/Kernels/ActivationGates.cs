using System;
using System.Runtime.Intrinsics;

namespace Dsl.Runtime.Cpu;

/// <summary>An activation whose derivative follows from the sign of its input (the same before and after it): what it
/// does to y (forward), or what its derivative at y does to dy (backward), as static vector and scalar operations. The
/// activation kernels' derivatives and the batch norm that takes one on (<see cref="BatchNorm"/>) use the same ones, so a
/// fused pass gives the unfused passes' bits.</summary>
internal interface IActivationGate
{
    /// <summary>False for the identity: nothing to recompute.</summary>
    static abstract bool Active { get; }
    static abstract Vector512<float> Apply(Vector512<float> y, Vector512<float> slope);
    static abstract float Apply(float y, float slope);
    static abstract Vector512<float> Grad(Vector512<float> y, Vector512<float> dy, Vector512<float> slope);
    static abstract Vector256<float> Grad(Vector256<float> y, Vector256<float> dy, Vector256<float> slope);
    static abstract float Grad(float y, float dy, float slope);
}

internal struct NoGate : IActivationGate
{
    public static bool Active => false;
    public static Vector512<float> Apply(Vector512<float> y, Vector512<float> slope) => y;
    public static float Apply(float y, float slope) => y;
    public static Vector512<float> Grad(Vector512<float> y, Vector512<float> dy, Vector512<float> slope) => dy;
    public static Vector256<float> Grad(Vector256<float> y, Vector256<float> dy, Vector256<float> slope) => dy;
    public static float Grad(float y, float dy, float slope) => dy;
}

internal struct ReluGate : IActivationGate
{
    public static bool Active => true;
    // IEEE maximum, as TensorPrimitives.Max: NaN stays NaN.
    public static Vector512<float> Apply(Vector512<float> y, Vector512<float> slope) => Vector512.Max(y, Vector512<float>.Zero);
    public static float Apply(float y, float slope) => MathF.Max(y, 0f);
    public static Vector512<float> Grad(Vector512<float> y, Vector512<float> dy, Vector512<float> slope) =>
        Vector512.ConditionalSelect(Vector512.GreaterThan(y, Vector512<float>.Zero), dy, Vector512<float>.Zero);
    public static Vector256<float> Grad(Vector256<float> y, Vector256<float> dy, Vector256<float> slope) =>
        Vector256.ConditionalSelect(Vector256.GreaterThan(y, Vector256<float>.Zero), dy, Vector256<float>.Zero);
    public static float Grad(float y, float dy, float slope) => y > 0f ? dy : 0f;
}

/// <summary>Leaky relu, for a slope of at least 0 (below it the sign of the output is not the input's).</summary>
internal struct LeakyGate : IActivationGate
{
    public static bool Active => true;
    public static Vector512<float> Apply(Vector512<float> y, Vector512<float> slope) =>
        Vector512.ConditionalSelect(Vector512.GreaterThan(y, Vector512<float>.Zero), y, y * slope);
    public static float Apply(float y, float slope) => y > 0f ? y : slope * y;
    public static Vector512<float> Grad(Vector512<float> y, Vector512<float> dy, Vector512<float> slope) =>
        Vector512.ConditionalSelect(Vector512.GreaterThan(y, Vector512<float>.Zero), dy, dy * slope);
    public static Vector256<float> Grad(Vector256<float> y, Vector256<float> dy, Vector256<float> slope) =>
        Vector256.ConditionalSelect(Vector256.GreaterThan(y, Vector256<float>.Zero), dy, dy * slope);
    public static float Grad(float y, float dy, float slope) => y > 0f ? dy : slope * dy;
}
