using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Dsl.Runtime.Cpu;

/// <summary>The matrices of Winograd's minimal filtering algorithm F(2, r) for r = 3 and 5: for an input run d of r + 1
/// values and a filter g of r taps, the two correlation outputs are A^T [(G g) . (B^T d)].</summary>
/// <remarks>Toom-Cook construction (Lavin and Gray 2015): G evaluates the filter polynomial at the points, divided by
/// the Lagrange denominators, and at infinity; A^T evaluates the outputs; B^T is what makes the bilinear form the
/// correlation. Points 0, 1, -1 for r = 3 and 0, 1, -1, 1/2, -1/2 for r = 5 (halves gave a slightly smaller float
/// error than twos). B^T and A^T are applied as straight-line vector code; the convolution tests check all three
/// against a float64 direct convolution.</remarks>
internal static unsafe class WinogradTransforms
{
    /// <summary>G [(r + 1) x r], row-major, for r = 3 or 5; null for other sizes.</summary>
    public static double[]? G(int r) => r switch
    {
        3 => [-1, 0, 0, 0.5, 0.5, 0.5, 0.5, -0.5, 0.5, 0, 0, 1],
        5 =>
        [
            4, 0, 0, 0, 0,
            2.0 / 3, 2.0 / 3, 2.0 / 3, 2.0 / 3, 2.0 / 3,
            2.0 / 3, -2.0 / 3, 2.0 / 3, -2.0 / 3, 2.0 / 3,
            -8.0 / 3, -4.0 / 3, -2.0 / 3, -1.0 / 3, -1.0 / 6,
            -8.0 / 3, 4.0 / 3, -2.0 / 3, 1.0 / 3, -1.0 / 6,
            0, 0, 0, 0, 1,
        ],
        _ => null,
    };

    /// <summary>y[i * sy] = (B^T x)[i] for x[j * sx], j &lt; alpha (4 or 6).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void InputRun(int alpha, Vector512<float>* x, int sx, Vector512<float>* y, int sy)
    {
        if (alpha == 4)
        {
            Vector512<float> d0 = x[0], d1 = x[sx], d2 = x[2 * sx], d3 = x[3 * sx];
            y[0] = d2 - d0;
            y[sy] = d1 + d2;
            y[2 * sy] = d2 - d1;
            y[3 * sy] = d3 - d1;
            return;
        }
        Vector512<float> e0 = x[0], e1 = x[sx], e2 = x[2 * sx], e3 = x[3 * sx], e4 = x[4 * sx], e5 = x[5 * sx];
        var quarter = Vector512.Create(0.25f);
        var half = Vector512.Create(0.5f);
        var fiveQuarters = Vector512.Create(1.25f);
        var q1 = e1 * quarter;
        var h1 = e1 * half;
        y[0] = Vector512.FusedMultiplyAdd(e0, quarter, e4 - e2 * fiveQuarters);
        y[sy] = e3 + e4 - q1 - e2 * quarter;
        y[2 * sy] = q1 - e2 * quarter - e3 + e4;
        y[3 * sy] = Vector512.FusedMultiplyAdd(e3, half, e4 - h1 - e2);
        y[4 * sy] = h1 - e2 - e3 * half + e4;
        y[5 * sy] = Vector512.FusedMultiplyAdd(e3, -fiveQuarters, q1 + e5);
    }

    /// <summary>(A^T x)[0] and [1] for x[j * sx], j &lt; alpha (4 or 6).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void OutputRun(int alpha, Vector512<float>* x, int sx, out Vector512<float> first, out Vector512<float> second)
    {
        if (alpha == 4)
        {
            Vector512<float> m1 = x[sx], m2 = x[2 * sx];
            first = x[0] + m1 + m2;
            second = m1 - m2 + x[3 * sx];
            return;
        }
        Vector512<float> n1 = x[sx], n2 = x[2 * sx], n3 = x[3 * sx], n4 = x[4 * sx];
        first = x[0] + n1 + n2 + n3 + n4;
        second = Vector512.FusedMultiplyAdd(n3 - n4, Vector512.Create(0.5f), n1 - n2 + x[5 * sx]);
    }
}
