/// The tiled matrix product every convolution and dense kernel is made of, and the dense kernels.
/// C[m, n] = sum over k of A[m, k] * B[k, n]: a work-group computes a TileM x TileN block of C, stepping
/// through K a TileK-deep slice at a time; both slices sit in local memory and each item accumulates
/// WorkM x WorkN outputs in registers. A and B are given as loaders, so a convolution's B can be the
/// image read through its window (implicit GEMM) instead of a lowered copy.
module Dsl.Compiler.Render.GemmKernels

open Dsl.Core
open Dsl.Compiler.Render.CStyle

type Gemm =
    { Name: string
      M: int
      N: int
      K: int
      /// Independent products in one launch (a convolution's groups); the index `b` names the product.
      Batches: int
      /// Statements setting the float `v` to A[gm, gk] (or B[gk, gn]) for in-range indices.
      LoadA: string
      LoadB: string
      /// True where consecutive k are adjacent in memory, false where consecutive m (or n) are: adjacent
      /// items then load adjacent floats.
      AAlongK: bool
      BAlongK: bool
      /// Statements storing the float `sum` as C[gm, gn].
      Store: string
      Params: Param list }

/// Loads a TileK-deep slice of A and of B into local memory (zero outside the matrices), each value passed
/// through `convert`: as products on tensor cores want it, or unchanged. Two loads in flight per loop: unrolled
/// fully, ptxas 11.8 spills AlexNet's grouped conv2 forward on sm_90 (16-byte stack frame); not at all, each load
/// waits for the one before.
let private loadSlices (c: Ctx) (g: Gemm) items (convert: string -> string) =
    let t = c.T
    // Which element of a slice an item loads at step e: along memory's fast axis first.
    let split alongK tile =
        if alongK then sprintf "e / %d" t.TileK, sprintf "e %% %d" t.TileK
        else sprintf "e %% %d" tile, sprintf "e / %d" tile
    let am, ak = split g.AAlongK t.TileM
    let bn, bk = split g.BAlongK t.TileN
    $$"""
    #pragma unroll 2
    for (int e = tid; e < {{t.TileM * t.TileK}}; e += {{items}}) {
        const int m = {{am}}, k = {{ak}}, gm = m0 + m, gk = k0 + k;
        float v = 0.0f;
        if (gm < {{g.M}} && gk < {{g.K}}) {
            {{splice 12 g.LoadA}}
        }
        As[k][m] = {{convert "v"}};
    }
    #pragma unroll 2
    for (int e = tid; e < {{t.TileN * t.TileK}}; e += {{items}}) {
        const int n = {{bn}}, k = {{bk}}, gn = n0 + n, gk = k0 + k;
        float v = 0.0f;
        if (gk < {{g.K}} && gn < {{g.N}}) {
            {{splice 12 g.LoadB}}
        }
        Bs[k][n] = {{convert "v"}};
    }
    """

/// FP32 units: each item accumulates WorkM x WorkN outputs spread a stride apart over the tile. The step through a slice
/// is unrolled 16 deep at most: unrolled whole, a 32-deep slice of 8 x 8 outputs took 255 registers (AlexNet's last dense
/// input gradient at 10 classes), one block per SM; 16 deep, 120.
let private fp32Body (c: Ctx) (g: Gemm) =
    let t = c.T
    let mt, nt = t.TileM / t.WorkM, t.TileN / t.WorkN
    let items = mt * nt
    $$"""
    {{c.D.Local}} float As[{{t.TileK}}][{{t.TileM}}];
    {{c.D.Local}} float Bs[{{t.TileK}}][{{t.TileN}}];
    const int tid = {{c.D.LocalId 0}};
    const int tm = tid / {{nt}}, tn = tid % {{nt}};
    const int m0 = {{c.D.GroupId 1}} * {{t.TileM}}, n0 = {{c.D.GroupId 0}} * {{t.TileN}}, b = {{c.D.GroupId 2}};
    float acc[{{t.WorkM}}][{{t.WorkN}}];
    for (int i = 0; i < {{t.WorkM}}; i++) {
        for (int j = 0; j < {{t.WorkN}}; j++) acc[i][j] = 0.0f;
    }
    for (int k0 = 0; k0 < {{g.K}}; k0 += {{t.TileK}}) {
        {{splice 8 (loadSlices c g items id)}}
        {{c.D.Barrier}}
        #pragma unroll {{min t.TileK 16}}
        for (int k = 0; k < {{t.TileK}}; k++) {
            float a[{{t.WorkM}}], bv[{{t.WorkN}}];
            #pragma unroll
            for (int i = 0; i < {{t.WorkM}}; i++) a[i] = As[k][tm + i * {{mt}}];
            #pragma unroll
            for (int j = 0; j < {{t.WorkN}}; j++) bv[j] = Bs[k][tn + j * {{nt}}];
            #pragma unroll
            for (int i = 0; i < {{t.WorkM}}; i++) {
                #pragma unroll
                for (int j = 0; j < {{t.WorkN}}; j++) acc[i][j] += a[i] * bv[j];
            }
        }
        {{c.D.Barrier}}
    }
    #pragma unroll
    for (int i = 0; i < {{t.WorkM}}; i++) {
        #pragma unroll
        for (int j = 0; j < {{t.WorkN}}; j++) {
            const int gm = m0 + tm + i * {{mt}}, gn = n0 + tn + j * {{nt}};
            if (gm < {{g.M}} && gn < {{g.N}}) {
                const float sum = acc[i][j];
                {{splice 16 g.Store}}
            }
        }
    }
    """

/// Tensor cores: each warp owns a (TileM / warpsM) x (TileN / warpsN) block of the tile as FM x FN products of
/// 16 x 8, stepping 8 deep. Values enter local memory already rounded to TF32. Fragment layouts are those of PTX's
/// mma.m16n8k8 with .tf32 (lane = 4 * group + t): A holds rows group and group + 8 at depths t and t + 4; B depths
/// t and t + 4 at column group; the accumulator rows group and group + 8 at columns 2t and 2t + 1.
let private tensorCoreBody (c: Ctx) (g: Gemm) =
    let t = c.T
    let items = Tuning.gemmItems t
    let pad = Tuning.gemmPad t
    let wm, wn = Tuning.mmaWarps t
    let fm, fn = t.TileM / wm / 16, t.TileN / wn / 8
    let tf32 = c.D.Tf32 |> Option.defaultWith (fun () -> failwithf "%s has no tensor-core products; render with TensorCores off" c.D.Name)
    $$"""
    {{c.D.Local}} float As[{{t.TileK}}][{{t.TileM + pad}}];
    {{c.D.Local}} float Bs[{{t.TileK}}][{{t.TileN + pad}}];
    const int tid = {{c.D.LocalId 0}};
    const int warp = tid / 32, lane = tid % 32, group = lane / 4, t4 = lane % 4;
    const int wrow = warp / {{wn}} * {{t.TileM / wm}}, wcol = warp % {{wn}} * {{t.TileN / wn}};
    const int m0 = {{c.D.GroupId 1}} * {{t.TileM}}, n0 = {{c.D.GroupId 0}} * {{t.TileN}}, b = {{c.D.GroupId 2}};
    float acc[{{fm}}][{{fn}}][4];
    for (int i = 0; i < {{fm}}; i++) {
        for (int j = 0; j < {{fn}}; j++) {
            for (int q = 0; q < 4; q++) acc[i][j][q] = 0.0f;
        }
    }
    for (int k0 = 0; k0 < {{g.K}}; k0 += {{t.TileK}}) {
        {{splice 8 (loadSlices c g items (sprintf "%s(%s)" tf32.Round))}}
        {{c.D.Barrier}}
        #pragma unroll
        for (int k = 0; k < {{t.TileK}}; k += 8) {
            float a[{{fm}}][4], bv[{{fn}}][2];
            #pragma unroll
            for (int i = 0; i < {{fm}}; i++) {
                const int r = wrow + i * 16 + group;
                a[i][0] = As[k + t4][r];
                a[i][1] = As[k + t4][r + 8];
                a[i][2] = As[k + t4 + 4][r];
                a[i][3] = As[k + t4 + 4][r + 8];
            }
            #pragma unroll
            for (int j = 0; j < {{fn}}; j++) {
                bv[j][0] = Bs[k + t4][wcol + j * 8 + group];
                bv[j][1] = Bs[k + t4 + 4][wcol + j * 8 + group];
            }
            #pragma unroll
            for (int i = 0; i < {{fm}}; i++) {
                #pragma unroll
                for (int j = 0; j < {{fn}}; j++) {{tf32.Mma}}(acc[i][j], a[i], bv[j]);
            }
        }
        {{c.D.Barrier}}
    }
    #pragma unroll
    for (int i = 0; i < {{fm}}; i++) {
        #pragma unroll
        for (int j = 0; j < {{fn}}; j++) {
            #pragma unroll
            for (int q = 0; q < 4; q++) {
                const int gm = m0 + wrow + i * 16 + group + q / 2 * 8, gn = n0 + wcol + j * 8 + 2 * t4 + q % 2;
                if (gm < {{g.M}} && gn < {{g.N}}) {
                    const float sum = acc[i][j][q];
                    {{splice 20 g.Store}}
                }
            }
        }
    }
    """

let render (c: Ctx) (g: Gemm) : Rendered =
    let t = c.T
    let items = Tuning.gemmItems t
    let body, helpers =
        if t.TensorCores then tensorCoreBody c g, c.D.Tf32 |> Option.map (fun m -> m.Helpers) |> Option.defaultValue []
        else fp32Body c g, []
    let groups = groupsFor (int64 g.N) t.TileN, groupsFor (int64 g.M) t.TileM, g.Batches
    { Source = kernel c g.Name (items, 1, 1) g.Params body
      Launches = [ launch g.Name g.Params groups (items, 1, 1) ]
      Helpers = helpers }

/// y[n, o] = act(sum over i of x[n, i] * w[o, i] + bias[o]).
let denseForward (c: Ctx) name n inF outF x w (bias: int option) y act =
    let biasParam = bias |> Option.map (fun b -> Read("bias", Buf b)) |> Option.toList
    let value = if bias.IsSome then "sum + bias[gn]" else "sum"
    render c
        { Name = name; M = n; N = outF; K = inF; Batches = 1
          LoadA = sprintf "v = x[gm * %d + gk];" inF
          LoadB = sprintf "v = w[gn * %d + gk];" inF
          AAlongK = true
          BAlongK = true
          Store = sprintf "const float r = %s;\ny[gm * %d + gn] = %s;" value outF (activate c.D act "r")
          Params = [ Read("x", Buf x); Read("w", Buf w) ] @ biasParam @ [ Write("y", Buf y) ] }

/// dx[n, i] = sum over o of dy[n, o] * w[o, i].
let denseBackwardData (c: Ctx) name n inF outF dy w dx =
    render c
        { Name = name; M = n; N = inF; K = outF; Batches = 1
          LoadA = sprintf "v = dy[gm * %d + gk];" outF
          LoadB = sprintf "v = w[gk * %d + gn];" inF
          AAlongK = true
          BAlongK = false
          Store = sprintf "dx[gm * %d + gn] = sum;" inF
          Params = [ Read("dy", Buf dy); Read("w", Buf w); Write("dx", Buf dx) ] }

/// dw[o, i] = sum over n of dy[n, o] * x[n, i].
let denseBackwardWeights (c: Ctx) name n inF outF x dy dw =
    render c
        { Name = name; M = outF; N = inF; K = n; Batches = 1
          LoadA = sprintf "v = dy[gk * %d + gm];" outF
          LoadB = sprintf "v = x[gk * %d + gn];" inF
          AAlongK = false
          BAlongK = false
          Store = sprintf "dw[gm * %d + gn] = sum;" inF
          Params = [ Read("x", Buf x); Read("dy", Buf dy); Write("dw", Buf dw) ] }
