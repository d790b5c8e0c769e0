/// Max and average pooling with the CPU device's rules: windows clipped to the input; the max keeps the
/// first largest cell in row-major order (argmax -1 and output 0 for a window with no cell); the average
/// divides by the window's positions inside the zero-padded input. Gradients are gathered: one item per
/// input cell sums, in output order, what the windows covering it send back, so no two items write the same cell.
module Dsl.Compiler.Render.PoolKernels

open Dsl.Core
open Dsl.Compiler.Render.CStyle

let private outputCell (g: PoolGeom) =
    $$"""
    const int ow = i % {{g.Wo}}, oh = i / {{g.Wo}} % {{g.Ho}}, plane = i / {{g.Ho * g.Wo}};
    const int hs = oh * {{g.StrideH}} - {{g.PadH}}, ws = ow * {{g.StrideW}} - {{g.PadW}};
    const int h0 = max(hs, 0), h1 = min(hs + {{g.R}}, {{g.H}}), w0 = max(ws, 0), w1 = min(ws + {{g.S}}, {{g.W}});
    """
    |> dedent

let private count (g: PoolGeom) hs ws =
    sprintf "(float)max(1, (min(%s + %d, %d) - %s) * (min(%s + %d, %d) - %s))" hs g.R (g.H + g.PadH) hs ws g.S (g.W + g.PadW) ws

/// Loops `oh` and `ow` over the outputs whose window covers input cell (ih, iw), in increasing order.
let private coveringWindows (g: PoolGeom) (inner: string) =
    $$"""
    const int iw = i % {{g.W}}, ih = i / {{g.W}} % {{g.H}}, plane = i / {{g.H * g.W}};
    const int lh = ih + {{g.PadH - g.R + 1}}, lw = iw + {{g.PadW - g.S + 1}};
    const int oh0 = lh <= 0 ? 0 : (lh + {{g.StrideH - 1}}) / {{g.StrideH}}, oh1 = min((ih + {{g.PadH}}) / {{g.StrideH}}, {{g.Ho - 1}});
    const int ow0 = lw <= 0 ? 0 : (lw + {{g.StrideW - 1}}) / {{g.StrideW}}, ow1 = min((iw + {{g.PadW}}) / {{g.StrideW}}, {{g.Wo - 1}});
    float sum = 0.0f;
    for (int oh = oh0; oh <= oh1; oh++) {
        for (int ow = ow0; ow <= ow1; ow++) {
            const int o = (plane * {{g.Ho}} + oh) * {{g.Wo}} + ow;
            {{inner}}
        }
    }
    dx[i] = sum;
    """

let maxForward (c: Ctx) name (g: PoolGeom) x y argmax =
    let gp = c.D.Global
    perItem c name [ Read("x", Buf x); Write("y", Buf y); WriteInt("argmax", Buf argmax) ] (int64 g.N * int64 g.C * int64 (g.Ho * g.Wo))
        $$"""
        {{outputCell g}}
        if (h0 >= h1 || w0 >= w1) {
            y[i] = 0.0f;
            argmax[i] = -1;
            return;
        }
        {{gp}}const float* xp = x + plane * {{g.H * g.W}};
        int at = h0 * {{g.W}} + w0;
        float best = xp[at];
        for (int ih = h0; ih < h1; ih++) {
            for (int iw = w0; iw < w1; iw++) {
                const float v = xp[ih * {{g.W}} + iw];
                if (v > best) {
                    best = v;
                    at = ih * {{g.W}} + iw;
                }
            }
        }
        y[i] = best;
        argmax[i] = at;
        """

let maxBackward (c: Ctx) name (g: PoolGeom) dy argmax dx =
    perItem c name [ Read("dy", Buf dy); ReadInt("argmax", Buf argmax); Write("dx", Buf dx) ] (int64 g.N * int64 g.C * int64 (g.H * g.W))
        (coveringWindows g (sprintf "if (argmax[o] == ih * %d + iw) sum += dy[o];" g.W))

let avgForward (c: Ctx) name (g: PoolGeom) x y =
    let gp = c.D.Global
    perItem c name [ Read("x", Buf x); Write("y", Buf y) ] (int64 g.N * int64 g.C * int64 (g.Ho * g.Wo))
        $$"""
        {{outputCell g}}
        {{gp}}const float* xp = x + plane * {{g.H * g.W}};
        float sum = 0.0f;
        for (int ih = h0; ih < h1; ih++) {
            for (int iw = w0; iw < w1; iw++) sum += xp[ih * {{g.W}} + iw];
        }
        y[i] = sum / {{count g "hs" "ws"}};
        """

let avgBackward (c: Ctx) name (g: PoolGeom) dy dx =
    let share =
        $$"""
        const int hs = oh * {{g.StrideH}} - {{g.PadH}}, ws = ow * {{g.StrideW}} - {{g.PadW}};
        sum += dy[o] / {{count g "hs" "ws"}};
        """
    perItem c name [ Read("dy", Buf dy); Write("dx", Buf dx) ] (int64 g.N * int64 g.C * int64 (g.H * g.W))
        (coveringWindows g (splice 12 share))
