using Dsl.Core;
using Microsoft.FSharp.Core;

namespace Dsl.Runtime;

/// <summary>ONNX's padding and rounding of a convolution or pooling window along one axis (begin and end padding, floor
/// or ceil), said the language's way: one padding on both sides, and `floor` or `ceil`. The windows start at the same
/// places and there are as many of them, so the layer reads the same input positions.</summary>
internal static class OnnxWindows
{
    /// <summary>The output length ONNX gives; with ceil, the last window must start inside the input or its begin padding
    /// (ONNX Runtime and PyTorch drop it otherwise, as the language does for pools).</summary>
    public static long Output(long input, long kernel, long stride, long begin, long end, bool ceil)
    {
        long span = input + begin + end - kernel;
        if (span < 0) return 0;
        if (!ceil) return span / stride + 1;
        long o = (span + stride - 1) / stride + 1;
        return (o - 1) * stride >= input + begin ? o - 1 : o;
    }

    /// <summary>The language's rounding for ONNX's window, or why there is none. <paramref name="pool"/>: pools round
    /// down by default and drop a last window that starts in the end padding; a conv must come out whole unless it says.</summary>
    public static (FSharpOption<Rounding>? rounding, string? why) Rounding(long input, long kernel, long stride, long begin, long end, bool ceil, bool pool)
    {
        long target = Output(input, kernel, stride, begin, end, ceil);
        long span = input + 2 * begin - kernel;
        if (target < 1 || span < 0) return (null, $"its window {kernel} does not fit its input {input} with padding {begin} and {end}");
        if (span / stride + 1 == target)
            return (span % stride == 0 && !pool ? null : FSharpOption<Dsl.Core.Rounding>.Some(Dsl.Core.Rounding.Floor), null);
        long up = (span + stride - 1) / stride + 1;
        if (pool && (up - 1) * stride >= input + begin) up--;
        if (up == target) return (FSharpOption<Dsl.Core.Rounding>.Some(Dsl.Core.Rounding.Ceil), null);
        return (null, $"its padding {begin} before and {end} after (input {input}, window {kernel}, stride {stride}) gives {target} outputs, " +
                      "which no symmetric padding with floor or ceil rounding gives");
    }
}
