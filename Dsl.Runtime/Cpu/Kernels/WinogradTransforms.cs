using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Dsl.Runtime.Cpu;

/// <summary>The matrices of Winograd's minimal filtering algorithm F(m, r) for F(2, 3), F(2, 5) and F(4, 3): for an input
/// run d of m + r - 1 values and a filter g of r taps, the m correlation outputs are A^T [(G g) . (B^T d)].</summary>
/// <remarks>Toom-Cook construction (Lavin and Gray 2015): G evaluates the filter polynomial at the points, divided by
/// the Lagrange denominators, and at infinity; A^T evaluates the outputs; B^T is what makes the bilinear form the
/// correlation. Points 0, 1, -1 for F(2, 3), 0, 1, -1, 1/2, -1/2 for F(2, 5) (halves gave a slightly smaller float
/// error than twos), and 0, 1, -1, 2, -2 for F(4, 3) (Lavin and Gray's matrices). B^T and A^T are applied as straight-line vector code; the convolution tests check all three
/// against a float64 direct convolution.</remarks>
internal static unsafe class WinogradTransforms
{
    /// <summary>G [(m + r - 1) x r], row-major, for F(2, 3), F(2, 5) and F(4, 3); null for other sizes.</summary>
    public static double[]? G(int m, int r) => (m, r) switch
    {
        (2, 3) => [-1, 0, 0, 0.5, 0.5, 0.5, 0.5, -0.5, 0.5, 0, 0, 1],
        (4, 3) =>
        [
            1.0 / 4, 0, 0,
            -1.0 / 6, -1.0 / 6, -1.0 / 6,
            -1.0 / 6, 1.0 / 6, -1.0 / 6,
            1.0 / 24, 1.0 / 12, 1.0 / 6,
            1.0 / 24, -1.0 / 12, 1.0 / 6,
            0, 0, 1,
        ],
        (2, 5) =>
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

    /// <summary>y[i * sy] = (B^T x)[i] for x[j * sx], j &lt; alpha: F(2, 3) (alpha 4) or F(2, 5) (alpha 6).</summary>
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

    /// <summary>(A^T x)[0] and [1] for x[j * sx], j &lt; alpha: F(2, 3) (alpha 4) or F(2, 5) (alpha 6).</summary>
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

    /// <summary>x[j * sx] = (A y)[j], j &lt; alpha, for y[i * sy], i &lt; m: the adjoint of the output transform, which takes
    /// an output gradient back to the products (the filter gradient). F(2, 3) (m 2, alpha 4), F(2, 5) (2, 6), F(4, 3) (4, 6).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void OutputAdjoint(int m, int alpha, Vector512<float>* y, int sy, Vector512<float>* x, int sx)
    {
        Vector512<float> y0 = y[0], y1 = y[sy];
        if (m == 2)
        {
            x[0] = y0;
            x[sx] = y0 + y1;
            x[2 * sx] = y0 - y1;
            if (alpha == 4)
            {
                x[3 * sx] = y1;
                return;
            }
            var half = Vector512.Create(0.5f);
            x[3 * sx] = Vector512.FusedMultiplyAdd(y1, half, y0);
            x[4 * sx] = Vector512.FusedMultiplyAdd(y1, -half, y0);
            x[5 * sx] = y1;
            return;
        }
        Vector512<float> y2 = y[2 * sy], y3 = y[3 * sy];
        Vector512<float> even = y0 + y2, odd = y1 + y3, even4 = Vector512.FusedMultiplyAdd(y2, Vector512.Create(4f), y0),
            odd8 = Vector512.FusedMultiplyAdd(y3, Vector512.Create(8f), y1 * Vector512.Create(2f));
        x[0] = y0;
        x[sx] = even + odd;
        x[2 * sx] = even - odd;
        x[3 * sx] = even4 + odd8;
        x[4 * sx] = even4 - odd8;
        x[5 * sx] = y3;
    }

    /// <summary>y[i * sy] = (B^T x)[i] of F(4, 3) for x[j * sx], j &lt; 6.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void InputRun43(Vector512<float>* x, int sx, Vector512<float>* y, int sy)
    {
        Vector512<float> d0 = x[0], d1 = x[sx], d2 = x[2 * sx], d3 = x[3 * sx], d4 = x[4 * sx], d5 = x[5 * sx];
        var four = Vector512.Create(4f);
        var minusFour = Vector512.Create(-4f);
        var minusFive = Vector512.Create(-5f);
        var t0 = Vector512.FusedMultiplyAdd(d2, minusFour, d4);
        var t1 = Vector512.FusedMultiplyAdd(d1, minusFour, d3);
        var t2 = d4 - d2;
        var t3 = (d3 - d1) * Vector512.Create(2f);
        y[0] = Vector512.FusedMultiplyAdd(d0, four, Vector512.FusedMultiplyAdd(d2, minusFive, d4));
        y[sy] = t0 + t1;
        y[2 * sy] = t0 - t1;
        y[3 * sy] = t2 + t3;
        y[4 * sy] = t2 - t3;
        y[5 * sy] = Vector512.FusedMultiplyAdd(d1, four, Vector512.FusedMultiplyAdd(d3, minusFive, d5));
    }

    /// <summary>y[i * sy] = (A^T x)[i] of F(4, 3), i &lt; 4, for x[j * sx], j &lt; 6.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void OutputRun43(Vector512<float>* x, int sx, Vector512<float>* y, int sy)
    {
        Vector512<float> m1 = x[sx], m2 = x[2 * sx], m3 = x[3 * sx], m4 = x[4 * sx];
        Vector512<float> a = m1 + m2, b = m1 - m2, c = m3 + m4, d = m3 - m4;
        y[0] = x[0] + a + c;
        y[sy] = Vector512.FusedMultiplyAdd(d, Vector512.Create(2f), b);
        y[2 * sy] = Vector512.FusedMultiplyAdd(c, Vector512.Create(4f), a);
        y[3 * sy] = Vector512.FusedMultiplyAdd(d, Vector512.Create(8f), b) + x[5 * sx];
    }
}
