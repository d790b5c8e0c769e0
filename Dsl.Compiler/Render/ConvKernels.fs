/// Convolutions as implicit GEMMs over the tiled product of GemmKernels: the loaders read the image
/// through each filter window (zero outside the padded input), so no lowered copy is ever stored.
/// Every kernel covers all groups in one launch, one product per group.
module Dsl.Compiler.Render.ConvKernels

open Dsl.Core
open Dsl.Compiler.Render.CStyle
open Dsl.Compiler.Render.GemmKernels

/// y[n, k, oh, ow] = act(sum over (c, r, s) of w[k, c, r, s] * x[n, c, oh*sh - ph + r, ow*sw - pw + s] + bias[k]):
/// per group, C[Kg, N*Ho*Wo] = W[Kg, Cg*R*S] x cols[Cg*R*S, N*Ho*Wo].
let forward (c: Ctx) name (g: ConvGeom) x w (bias: int option) y act =
    let cg, kg, rs, howo = g.C / g.Groups, g.K / g.Groups, g.R * g.S, g.Ho * g.Wo
    let biasParam = bias |> Option.map (fun b -> Read("bias", Buf b)) |> Option.toList
    let value = if bias.IsSome then sprintf "sum + bias[b * %d + gm]" kg else "sum"
    render c
        { Name = name; M = kg; N = g.N * howo; K = cg * rs; Batches = g.Groups
          LoadA = fun fetch -> fetch "w" (sprintf "(b * %d + gm) * %d + gk" kg (cg * rs))
          LoadB =
            fun fetch ->
                $$"""
            const int c = gk / {{rs}}, r = gk % {{rs}} / {{g.S}}, s = gk % {{g.S}};
            const int img = gn / {{howo}}, oh = gn % {{howo}} / {{g.Wo}}, ow = gn % {{g.Wo}};
            const int ih = oh * {{g.StrideH}} - {{g.PadH}} + r, iw = ow * {{g.StrideW}} - {{g.PadW}} + s;
            if (ih >= 0 && ih < {{g.H}} && iw >= 0 && iw < {{g.W}}) {{fetch "x" (sprintf "((img * %d + b * %d + c) * %d + ih) * %d + iw" g.C cg g.H g.W)}}
            """
          AAlongK = true
          BAlongK = false
          Store =
            $$"""
            const float r = {{value}};
            y[(gn / {{howo}} * {{g.K}} + b * {{kg}} + gm) * {{howo}} + gn % {{howo}}] = {{activate c.D act "r"}};
            """
          Params = [ Read("x", Buf x); Read("w", Buf w) ] @ biasParam @ [ Write("y", Buf y) ] }

/// dx[n, c, ih, iw] = sum over (k, r, s) of w[k, c, r, s] * dy[n, k, oh, ow] where ih = oh*sh - ph + r:
/// per group, C[Cg, N*H*W] = W^T[Cg, Kg*R*S] x dy read through the transposed window (a tap counts only
/// where ih + ph - r is a multiple of the stride).
let backwardData (c: Ctx) name (g: ConvGeom) dy w dx =
    let cg, kg, rs, hw = g.C / g.Groups, g.K / g.Groups, g.R * g.S, g.H * g.W
    render c
        { Name = name; M = cg; N = g.N * hw; K = kg * rs; Batches = g.Groups
          LoadA = fun fetch -> fetch "w" (sprintf "(b * %d + gk / %d) * %d + gm * %d + gk %% %d" kg rs (cg * rs) rs rs)
          LoadB =
            fun fetch ->
                $$"""
            const int oc = gk / {{rs}}, r = gk % {{rs}} / {{g.S}}, s = gk % {{g.S}};
            const int img = gn / {{hw}}, ih = gn % {{hw}} / {{g.W}}, iw = gn % {{g.W}};
            const int th = ih + {{g.PadH}} - r, tw = iw + {{g.PadW}} - s;
            if (th >= 0 && tw >= 0 && th % {{g.StrideH}} == 0 && tw % {{g.StrideW}} == 0 && th / {{g.StrideH}} < {{g.Ho}} && tw / {{g.StrideW}} < {{g.Wo}})
                {{fetch "dy" (sprintf "((img * %d + b * %d + oc) * %d + th / %d) * %d + tw / %d" g.K kg g.Ho g.StrideH g.Wo g.StrideW)}}
            """
          AAlongK = true
          BAlongK = false
          Store = sprintf "dx[(gn / %d * %d + b * %d + gm) * %d + gn %% %d] = sum;" hw g.C cg hw hw
          Params = [ Read("dy", Buf dy); Read("w", Buf w); Write("dx", Buf dx) ] }

/// dw[k, c, r, s] = sum over (n, oh, ow) of dy[n, k, oh, ow] * x[n, c, oh*sh - ph + r, ow*sw - pw + s]:
/// per group, C[Kg, Cg*R*S] = dy[Kg, N*Ho*Wo] x cols^T. The bias gradient is a separate reduction.
let backwardFilter (c: Ctx) name (g: ConvGeom) x dy dw =
    let cg, kg, rs, howo = g.C / g.Groups, g.K / g.Groups, g.R * g.S, g.Ho * g.Wo
    render c
        { Name = name; M = kg; N = cg * rs; K = g.N * howo; Batches = g.Groups
          LoadA = fun fetch -> fetch "dy" (sprintf "(gk / %d * %d + b * %d + gm) * %d + gk %% %d" howo g.K kg howo howo)
          LoadB =
            fun fetch ->
                $$"""
            const int c = gn / {{rs}}, r = gn % {{rs}} / {{g.S}}, s = gn % {{g.S}};
            const int img = gk / {{howo}}, oh = gk % {{howo}} / {{g.Wo}}, ow = gk % {{g.Wo}};
            const int ih = oh * {{g.StrideH}} - {{g.PadH}} + r, iw = ow * {{g.StrideW}} - {{g.PadW}} + s;
            if (ih >= 0 && ih < {{g.H}} && iw >= 0 && iw < {{g.W}}) {{fetch "x" (sprintf "((img * %d + b * %d + c) * %d + ih) * %d + iw" g.C cg g.H g.W)}}
            """
          AAlongK = true
          BAlongK = true
          Store = sprintf "dw[(b * %d + gm) * %d + gn] = sum;" kg (cg * rs)
          Params = [ Read("x", Buf x); Read("dy", Buf dy); Write("dw", Buf dw) ] }
