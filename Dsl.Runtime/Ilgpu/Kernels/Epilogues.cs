namespace Dsl.Runtime.Ilgpu.Kernels;

/// <summary>An activation as a struct type parameter of a kernel: ILGPU compiles one kernel per activation with the
/// choice inlined, as the C renderer writes the activation into the kernel's epilogue. The backward is taken from the
/// forward's output, as on the other devices.</summary>
public interface IActivation
{
    float Forward(float x, float slope);
    float Backward(float y, float dy, float slope);
}

public struct Identity : IActivation
{
    public readonly float Forward(float x, float slope) => x;
    public readonly float Backward(float y, float dy, float slope) => dy;
}

public struct Relu : IActivation
{
    public readonly float Forward(float x, float slope) => x > 0f ? x : 0f;
    public readonly float Backward(float y, float dy, float slope) => y > 0f ? dy : 0f;
}

public struct LeakyRelu : IActivation
{
    public readonly float Forward(float x, float slope) => x > 0f ? x : x * slope;
    public readonly float Backward(float y, float dy, float slope) => y > 0f ? dy : slope * dy;
}

public struct Tanh : IActivation
{
    public readonly float Forward(float x, float slope) => MathF.Tanh(x);
    public readonly float Backward(float y, float dy, float slope) => dy * (1f - y * y);
}

public struct Sigmoid : IActivation
{
    public readonly float Forward(float x, float slope) => 1f / (1f + MathF.Exp(-x));
    public readonly float Backward(float y, float dy, float slope) => dy * y * (1f - y);
}

/// <summary>Picks a kernel's activation: the plan's activation (or none) as the struct type argument.</summary>
static class Epilogue
{
    static Type Of(Core.Activation? a) => a switch
    {
        null => typeof(Identity),
        { IsRelu: true } => typeof(Relu),
        Core.Activation.LeakyRelu => typeof(LeakyRelu),
        { IsTanh: true } => typeof(Tanh),
        _ => typeof(Sigmoid),
    };

    /// <summary>The leaky ReLU's slope, else 0.</summary>
    public static float Slope(Core.Activation? a) => a is Core.Activation.LeakyRelu l ? (float)l.slope : 0f;

    /// <summary>A kernel struct generic in its activation (typeof(Conv.Forward&lt;&gt;)) for <paramref name="a"/>.</summary>
    public static Type With(Type kernel, Core.Activation? a) => kernel.MakeGenericType(Of(a));
}
