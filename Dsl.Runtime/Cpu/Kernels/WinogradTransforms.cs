using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Dsl.Runtime.Cpu;

/// <summary>The matrices of Winograd's minimal filtering algorithm F(m, r) for F(2, 3), F(4, 3) and F(4, 5): for an input
/// run d of m + r - 1 values and a filter g of r taps, the m correlation outputs are A^T [(G g) . (B^T d)].</summary>
/// <remarks>Toom-Cook construction (Lavin and Gray 2015): G evaluates the filter polynomial at the points, divided by
/// the Lagrange denominators, and at infinity; A^T evaluates the outputs; B^T is what makes the bilinear form the
/// correlation. Points 0, 1, -1 for F(2, 3), 0, 1, -1, 2, -2 for F(4, 3) (Lavin and Gray's matrices), and 0, 1, -1, 2,
/// -2, 1/2, -1/2 for F(4, 5) (the points of the widely used F(6, 3), whose B^T it shares; its float error on lenet's
/// conv2 is that of the F(2, 5) it replaced, rms 1.7 times, worst 1.2 times, in a numpy simulation). B^T and A^T are
/// applied as straight-line vector code; the convolution tests check all three against a float64 direct convolution.</remarks>
internal static unsafe class WinogradTransforms
{
    /// <summary>G [(m + r - 1) x r], row-major, for F(2, 3), F(4, 3) and F(4, 5); null for other sizes.</summary>
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
        (4, 5) =>
        [
            -1, 0, 0, 0, 0,
            -2.0 / 9, -2.0 / 9, -2.0 / 9, -2.0 / 9, -2.0 / 9,
            -2.0 / 9, 2.0 / 9, -2.0 / 9, 2.0 / 9, -2.0 / 9,
            1.0 / 90, 1.0 / 45, 2.0 / 45, 4.0 / 45, 8.0 / 45,
            1.0 / 90, -1.0 / 45, 2.0 / 45, -4.0 / 45, 8.0 / 45,
            32.0 / 45, 16.0 / 45, 8.0 / 45, 4.0 / 45, 2.0 / 45,
            32.0 / 45, -16.0 / 45, 8.0 / 45, -4.0 / 45, 2.0 / 45,
            0, 0, 0, 0, 1,
        ],
        _ => null,
    };

    /// <summary>y[i * sy] = (B^T x)[i] of F(2, 3) for x[j * sx], j &lt; 4.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void InputRun23(Vector512<float>* x, int sx, Vector512<float>* y, int sy)
    {
        Vector512<float> d0 = x[0], d1 = x[sx], d2 = x[2 * sx], d3 = x[3 * sx];
        y[0] = d2 - d0;
        y[sy] = d1 + d2;
        y[2 * sy] = d2 - d1;
        y[3 * sy] = d3 - d1;
    }

    /// <summary>(A^T x)[0] and [1] of F(2, 3) for x[j * sx], j &lt; 4.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void OutputRun23(Vector512<float>* x, int sx, out Vector512<float> first, out Vector512<float> second)
    {
        Vector512<float> m1 = x[sx], m2 = x[2 * sx];
        first = x[0] + m1 + m2;
        second = m1 - m2 + x[3 * sx];
    }

    /// <summary>x[j * sx] = (A y)[j], j &lt; alpha, for y[i * sy], i &lt; m: the adjoint of the output transform, which takes
    /// an output gradient back to the products (the filter gradient). F(2, 3) (m 2, alpha 4), F(4, 3) (4, 6) and F(4, 5)
    /// (4, 8).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void OutputAdjoint(int m, int alpha, Vector512<float>* y, int sy, Vector512<float>* x, int sx)
    {
        Vector512<float> y0 = y[0], y1 = y[sy];
        if (m == 2)
        {
            x[0] = y0;
            x[sx] = y0 + y1;
            x[2 * sx] = y0 - y1;
            x[3 * sx] = y1;
            return;
        }
        // Points 0, +-1, +-2 (and for F(4, 5) +-1/2), then infinity: y0 + p y1 + p^2 y2 + p^3 y3 as even and odd parts.
        Vector512<float> y2 = y[2 * sy], y3 = y[3 * sy];
        Vector512<float> even = y0 + y2, odd = y1 + y3, even4 = Vector512.FusedMultiplyAdd(y2, Vector512.Create(4f), y0),
            odd8 = Vector512.FusedMultiplyAdd(y3, Vector512.Create(8f), y1 * Vector512.Create(2f));
        x[0] = y0;
        x[sx] = even + odd;
        x[2 * sx] = even - odd;
        x[3 * sx] = even4 + odd8;
        x[4 * sx] = even4 - odd8;
        if (alpha == 8)
        {
            Vector512<float> evenQuarter = Vector512.FusedMultiplyAdd(y2, Vector512.Create(0.25f), y0),
                oddEighth = Vector512.FusedMultiplyAdd(y3, Vector512.Create(0.125f), y1 * Vector512.Create(0.5f));
            x[5 * sx] = evenQuarter + oddEighth;
            x[6 * sx] = evenQuarter - oddEighth;
        }
        x[(alpha - 1) * sx] = y3;
    }

    /// <summary>y[i * sy] = (B^T x)[i] of F(4, 3) (alpha 6) or F(4, 5) (alpha 8) for x[j * sx], j &lt; alpha.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void InputRun4(int alpha, Vector512<float>* x, int sx, Vector512<float>* y, int sy)
    {
        if (alpha == 6) InputRun43(x, sx, y, sy);
        else InputRun45(x, sx, y, sy);
    }

    /// <summary>y[i * sy] = (A^T x)[i], i &lt; 4, of F(4, 3) (alpha 6) or F(4, 5) (alpha 8) for x[j * sx], j &lt; alpha.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void OutputRun4(int alpha, Vector512<float>* x, int sx, Vector512<float>* y, int sy)
    {
        if (alpha == 6) OutputRun43(x, sx, y, sy);
        else OutputRun45(x, sx, y, sy);
    }

    /// <summary>y[i * sy] = (B^T x)[i] of F(4, 3) for x[j * sx], j &lt; 6.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void InputRun43(Vector512<float>* x, int sx, Vector512<float>* y, int sy)
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
    static void OutputRun43(Vector512<float>* x, int sx, Vector512<float>* y, int sy)
    {
        Vector512<float> m1 = x[sx], m2 = x[2 * sx], m3 = x[3 * sx], m4 = x[4 * sx];
        Vector512<float> a = m1 + m2, b = m1 - m2, c = m3 + m4, d = m3 - m4;
        y[0] = x[0] + a + c;
        y[sy] = Vector512.FusedMultiplyAdd(d, Vector512.Create(2f), b);
        y[2 * sy] = Vector512.FusedMultiplyAdd(c, Vector512.Create(4f), a);
        y[3 * sy] = Vector512.FusedMultiplyAdd(d, Vector512.Create(8f), b) + x[5 * sx];
    }

    /// <summary>y[i * sy] = (B^T x)[i] of F(4, 5) for x[j * sx], j &lt; 8.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void InputRun45(Vector512<float>* x, int sx, Vector512<float>* y, int sy)
    {
        Vector512<float> d0 = x[0], d1 = x[sx], d2 = x[2 * sx], d3 = x[3 * sx], d4 = x[4 * sx], d5 = x[5 * sx], d6 = x[6 * sx], d7 = x[7 * sx];
        var c525 = Vector512.Create(5.25f);
        var m425 = Vector512.Create(-4.25f);
        // the odd and even halves of each +-p pair of rows
        var odd1 = Vector512.FusedMultiplyAdd(d3, m425, d1 + d5);
        var even1 = Vector512.FusedMultiplyAdd(d4, m425, d2 + d6);
        var odd2 = Vector512.FusedMultiplyAdd(d1, Vector512.Create(0.5f), Vector512.FusedMultiplyAdd(d3, Vector512.Create(-2.5f), d5 * Vector512.Create(2f)));
        var even2 = Vector512.FusedMultiplyAdd(d2, Vector512.Create(0.25f), Vector512.FusedMultiplyAdd(d4, Vector512.Create(-1.25f), d6));
        var odd3 = Vector512.FusedMultiplyAdd(d1, Vector512.Create(2f), Vector512.FusedMultiplyAdd(d3, Vector512.Create(-2.5f), d5 * Vector512.Create(0.5f)));
        var even3 = Vector512.FusedMultiplyAdd(d2, Vector512.Create(4f), Vector512.FusedMultiplyAdd(d4, Vector512.Create(-5f), d6));
        y[0] = Vector512.FusedMultiplyAdd(d2 - d4, c525, d6 - d0);
        y[sy] = even1 + odd1;
        y[2 * sy] = even1 - odd1;
        y[3 * sy] = even2 + odd2;
        y[4 * sy] = even2 - odd2;
        y[5 * sy] = even3 + odd3;
        y[6 * sy] = even3 - odd3;
        y[7 * sy] = Vector512.FusedMultiplyAdd(d3 - d5, c525, d7 - d1);
    }

    /// <summary>y[i * sy] = (A^T x)[i] of F(4, 5), i &lt; 4, for x[j * sx], j &lt; 8.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void OutputRun45(Vector512<float>* x, int sx, Vector512<float>* y, int sy)
    {
        Vector512<float> m1 = x[sx], m2 = x[2 * sx], m3 = x[3 * sx], m4 = x[4 * sx], m5 = x[5 * sx], m6 = x[6 * sx];
        Vector512<float> a = m1 + m2, b = m1 - m2, c = m3 + m4, d = m3 - m4, e = m5 + m6, f = m5 - m6;
        y[0] = x[0] + a + c + e;
        y[sy] = Vector512.FusedMultiplyAdd(d, Vector512.Create(2f), Vector512.FusedMultiplyAdd(f, Vector512.Create(0.5f), b));
        y[2 * sy] = Vector512.FusedMultiplyAdd(c, Vector512.Create(4f), Vector512.FusedMultiplyAdd(e, Vector512.Create(0.25f), a));
        y[3 * sy] = Vector512.FusedMultiplyAdd(d, Vector512.Create(8f), Vector512.FusedMultiplyAdd(f, Vector512.Create(0.125f), b)) + x[7 * sx];
    }
}
