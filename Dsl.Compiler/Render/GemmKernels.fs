/// The tiled matrix product every convolution and dense kernel is made of, and the dense kernels.
/// C[m, n] = sum over k of A[m, k] * B[k, n]: a work-group computes a TileM x TileN block of C, stepping
/// through K a TileK-deep slice at a time; both slices sit in local memory (pipelined on CUDA: a ring of
/// Stages slices, the next ones copied by cp.async while one is computed) and each item accumulates
/// WorkM x WorkN outputs in registers (on tensor cores, each warp its mma fragments). A and B are given as
/// loaders, so a convolution's B can be the image read through its window (implicit GEMM) instead of a
/// lowered copy.
module Dsl.Compiler.Render.GemmKernels

open Dsl.Core
open Dsl.Compiler.Render.Dialect
open Dsl.Compiler.Render.CStyle

/// Renders what a loader does with the element it found, given the buffer and the index in it (`fetch "x" "gm * 9 + gk"`).
type Fetch = string -> string -> string

type Gemm =
    { Name: string
      M: int
      N: int
      K: int
      /// Independent products in one launch (a convolution's groups); the index `b` names the product.
      Batches: int
      /// Statements that fetch A[gm, gk] (or B[gk, gn]) for in-range indices; an element they do not fetch (a
      /// convolution's padding) is zero.
      LoadA: Fetch -> string
      LoadB: Fetch -> string
      /// True where consecutive k are adjacent in memory, false where consecutive m (or n) are: adjacent
      /// items then load adjacent floats.
      AAlongK: bool
      BAlongK: bool
      /// Statements storing the float `sum` as C[gm, gn].
      Store: string
      Params: Param list }

/// Where a work-group's slices of A and B live: their declarations, and the element at (k, m) of A or (k, n) of B in
/// a stage (a variable; ignored where there is one slice).
type private Slices =
    { Declare: string
      A: string -> string -> string -> string
      B: string -> string -> string -> string }

let private asyncOps (c: Ctx) =
    c.D.AsyncCopy |> Option.defaultWith (fun () -> failwithf "%s has no asynchronous copies; render the GEMM with 1 stage" c.D.Name)

let private tensorOps (c: Ctx) =
    c.D.Tf32 |> Option.defaultWith (fun () -> failwithf "%s has no tensor-core products; render with TensorCores off" c.D.Name)

/// One slice of each in local memory, [TileK][TileM + pad]; or, pipelined, a ring of Stages slices in dynamic shared
/// memory: K-contiguous ([TileM][TileK + pad]) on tensor cores, where ldmatrix reads the fragments, else as one slice.
let private slices (c: Ctx) : Slices =
    let t = c.T
    let pad = Tuning.gemmPad t
    if not (Tuning.pipelined t) then
        { Declare = sprintf "%s float As[%d][%d];\n%s float Bs[%d][%d];" c.D.Local t.TileK (t.TileM + pad) c.D.Local t.TileK (t.TileN + pad)
          A = fun _ k m -> sprintf "As[%s][%s]" k m
          B = fun _ k n -> sprintf "Bs[%s][%s]" k n }
    else
        let kContiguous = t.TensorCores
        let shape tile = if kContiguous then tile, t.TileK + pad else t.TileK, tile + pad
        let at stage k x = if kContiguous then sprintf "[%s][%s][%s]" stage x k else sprintf "[%s][%s][%s]" stage k x
        let view name (rows, cols) offset =
            sprintf "float (*const %s)[%d][%d] = (float (*)[%d][%d])(dsl_smem + %d);" name rows cols rows cols offset
        let aShape = shape t.TileM
        { Declare =
            [ (asyncOps c).Declare "dsl_smem"
              view "As" aShape 0
              view "Bs" (shape t.TileN) (t.Stages * fst aShape * snd aShape) ]
            |> String.concat "\n"
          A = fun stage k m -> "As" + at stage k m
          B = fun stage k n -> "Bs" + at stage k n }

/// How an element reaches its slice: a declaration before the loader, what the loader does with what it finds, and the
/// statements that put it at a slot. Synchronous: the value, passed through `convert` (rounded as tensor cores want it, or
/// unchanged).
let private loadValue (convert: string -> string) : string * Fetch * (string -> string) =
    "float v = 0.0f;", (fun buf index -> sprintf "v = %s[%s];" buf index), (fun slot -> sprintf "%s = %s;" slot (convert "v"))

/// Pipelined: the address, copied asynchronously; an element with no address is a zero, stored directly.
let private copyAddress (ops: AsyncCopyOps) : string * Fetch * (string -> string) =
    "const float* src = 0;",
    (fun buf index -> sprintf "src = %s + (%s);" buf index),
    (fun slot -> sprintf "if (src) %s(&%s, src);\nelse %s = 0.0f;" ops.Copy slot slot)

/// Loads the TileK-deep slice of A and of B at depth k0 into `stage`, zero outside the matrices, `unroll` elements per
/// loop step.
let private loadSlices (c: Ctx) (g: Gemm) items (s: Slices) (declare, fetch, put) unroll stage =
    let t = c.T
    // Which element of a slice an item loads at step e: along memory's fast axis first.
    let split alongK tile =
        if alongK then sprintf "e / %d" t.TileK, sprintf "e %% %d" t.TileK
        else sprintf "e %% %d" tile, sprintf "e / %d" tile
    let am, ak = split g.AAlongK t.TileM
    let bn, bk = split g.BAlongK t.TileN
    $$"""
    #pragma unroll {{unroll}}
    for (int e = tid; e < {{t.TileM * t.TileK}}; e += {{items}}) {
        const int m = {{am}}, k = {{ak}}, gm = m0 + m, gk = k0 + k;
        {{declare}}
        if (gm < {{g.M}} && gk < {{g.K}}) {
            {{splice 12 (g.LoadA fetch)}}
        }
        {{splice 8 (put (s.A stage "k" "m"))}}
    }
    #pragma unroll {{unroll}}
    for (int e = tid; e < {{t.TileN * t.TileK}}; e += {{items}}) {
        const int n = {{bn}}, k = {{bk}}, gn = n0 + n, gk = k0 + k;
        {{declare}}
        if (gk < {{g.K}} && gn < {{g.N}}) {
            {{splice 12 (g.LoadB fetch)}}
        }
        {{splice 8 (put (s.B stage "k" "n"))}}
    }
    """

/// The walk through K, given the loads of the slice at k0 into a stage and the products of a stage (both by the stage's
/// variable). Synchronous: one slice loaded, then computed, between barriers.
let private synchronousWalk (c: Ctx) (g: Gemm) (load: string -> string) (compute: string -> string) =
    $$"""
    for (int k0 = 0; k0 < {{g.K}}; k0 += {{c.T.TileK}}) {
        {{splice 8 (load "")}}
        {{c.D.Barrier}}
        {{splice 8 (compute "")}}
        {{c.D.Barrier}}
    }
    """

/// Pipelined: slices 0 to Stages - 2 are queued before the loop. At slice kt each thread waits until its copies of slice kt
/// have landed (at most Stages - 2 younger groups in flight); the barrier then shows every thread's copies, and tells that
/// every warp has computed slice kt - 1, whose stage takes slice kt + Stages - 1. Each iteration commits a group, empty
/// past the end, so the number in flight, and with it the wait's constant, stays the same.
let private pipelinedWalk (c: Ctx) (g: Gemm) (load: string -> string) (compute: string -> string) =
    let t = c.T
    let ops = asyncOps c
    let ahead = t.Stages - 1
    $$"""
    for (int ls = 0; ls < {{ahead}}; ls++) {
        const int k0 = ls * {{t.TileK}};
        if (k0 < {{g.K}}) {
            {{splice 12 (load "ls")}}
        }
        {{ops.Commit}}();
    }
    for (int kt = 0; kt < {{(g.K + t.TileK - 1) / t.TileK}}; kt++) {
        {{ops.Wait(t.Stages - 2)}}
        {{c.D.Barrier}}
        {
            const int ls = (kt + {{ahead}}) % {{t.Stages}}, k0 = (kt + {{ahead}}) * {{t.TileK}};
            if (k0 < {{g.K}}) {
                {{splice 16 (load "ls")}}
            }
            {{ops.Commit}}();
        }
        const int cs = kt % {{t.Stages}};
        {{splice 8 (compute "cs")}}
    }
    """

/// The slices, how elements reach them, and the walk through K, for the work-group's tuning. Synchronous loads two at a
/// time: unrolled fully, ptxas 11.8 spills AlexNet's grouped conv2 forward on sm_90 (16-byte stack frame); not at all, each
/// load waits for the one before. Copies one at a time, since a cp.async does not wait for its data: unrolled by two, ptxas
/// 11.8 gave AlexNet's FP32 conv3 forward 150 registers on sm_80 (one block per SM); by one, 124 at most.
let private pipeline (c: Ctx) (g: Gemm) items (convert: string -> string) =
    let s = slices c
    if Tuning.pipelined c.T then s, (fun compute -> pipelinedWalk c g (loadSlices c g items s (copyAddress (asyncOps c)) 1) compute)
    else s, (fun compute -> synchronousWalk c g (loadSlices c g items s (loadValue convert) 2) compute)

/// FP32 units: each item accumulates WorkM x WorkN outputs spread a stride apart over the tile. The step through a slice
/// is unrolled 16 deep at most: unrolled whole, a 32-deep slice of 8 x 8 outputs took 255 registers (AlexNet's last dense
/// input gradient at 10 classes), one block per SM; 16 deep, 120.
let private fp32Body (c: Ctx) (g: Gemm) =
    let t = c.T
    let mt, nt = t.TileM / t.WorkM, t.TileN / t.WorkN
    let s, walk = pipeline c g (mt * nt) id
    let compute stage =
        $$"""
        #pragma unroll {{min t.TileK 16}}
        for (int k = 0; k < {{t.TileK}}; k++) {
            float a[{{t.WorkM}}], bv[{{t.WorkN}}];
            #pragma unroll
            for (int i = 0; i < {{t.WorkM}}; i++) a[i] = {{s.A stage "k" (sprintf "tm + i * %d" mt)}};
            #pragma unroll
            for (int j = 0; j < {{t.WorkN}}; j++) bv[j] = {{s.B stage "k" (sprintf "tn + j * %d" nt)}};
            #pragma unroll
            for (int i = 0; i < {{t.WorkM}}; i++) {
                #pragma unroll
                for (int j = 0; j < {{t.WorkN}}; j++) acc[i][j] += a[i] * bv[j];
            }
        }
        """
    $$"""
    {{splice 4 s.Declare}}
    const int tid = {{c.D.LocalId 0}};
    const int tm = tid / {{nt}}, tn = tid % {{nt}};
    const int m0 = {{c.D.GroupId 1}} * {{t.TileM}}, n0 = {{c.D.GroupId 0}} * {{t.TileN}}, b = {{c.D.GroupId 2}};
    float acc[{{t.WorkM}}][{{t.WorkN}}];
    for (int i = 0; i < {{t.WorkM}}; i++) {
        for (int j = 0; j < {{t.WorkN}}; j++) acc[i][j] = 0.0f;
    }
    {{splice 4 (walk compute)}}
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

/// A warp's fragments of an 8-deep step at k, read element by element from the [TileK][TileM + pad] slices (values
/// rounded on their way in).
let private scalarFragments (s: Slices) fm fn =
    $$"""
    #pragma unroll
    for (int i = 0; i < {{fm}}; i++) {
        const int r = wrow + i * 16 + group;
        a[i][0] = {{s.A "" "k + t4" "r"}};
        a[i][1] = {{s.A "" "k + t4" "r + 8"}};
        a[i][2] = {{s.A "" "k + t4 + 4" "r"}};
        a[i][3] = {{s.A "" "k + t4 + 4" "r + 8"}};
    }
    #pragma unroll
    for (int j = 0; j < {{fn}}; j++) {
        bv[j][0] = {{s.B "" "k + t4" "wcol + j * 8 + group"}};
        bv[j][1] = {{s.B "" "k + t4 + 4" "wcol + j * 8 + group"}};
    }
    """

/// The same fragments by ldmatrix from the K-contiguous stages, rounded to TF32 here since cp.async copies raw floats. An
/// A fragment is four 8 x 4 matrices: rows +0 and +8 (lane / 8 % 2) at depths +0 and +4 (lane / 16); two B fragments
/// (columns j and j + 1) are columns +0 and +8 (lane / 16) at depths +0 and +4 (lane / 8 % 2).
let private matrixFragments (c: Ctx) (s: Slices) fm fn stage =
    let ops, tf32 = asyncOps c, tensorOps c
    $$"""
    #pragma unroll
    for (int i = 0; i < {{fm}}; i++) {
        {{ops.LoadMatrix}}(a[i], &{{s.A stage "k + lane / 16 * 4" "wrow + i * 16 + lane % 16"}});
        #pragma unroll
        for (int q = 0; q < 4; q++) a[i][q] = {{tf32.Round}}(a[i][q]);
    }
    #pragma unroll
    for (int j = 0; j < {{fn}}; j += 2) {
        float r[4];
        {{ops.LoadMatrix}}(r, &{{s.B stage "k + lane / 8 % 2 * 4" "wcol + j * 8 + lane / 16 * 8 + lane % 8"}});
        bv[j][0] = {{tf32.Round}}(r[0]);
        bv[j][1] = {{tf32.Round}}(r[1]);
        bv[j + 1][0] = {{tf32.Round}}(r[2]);
        bv[j + 1][1] = {{tf32.Round}}(r[3]);
    }
    """

/// Tensor cores: each warp owns a (TileM / warpsM) x (TileN / warpsN) block of the tile as FM x FN products of
/// 16 x 8, stepping 8 deep. Fragment layouts are those of PTX's mma.m16n8k8 with .tf32 (lane = 4 * group + t): A holds
/// rows group and group + 8 at depths t and t + 4; B depths t and t + 4 at column group; the accumulator rows group and
/// group + 8 at columns 2t and 2t + 1.
let private tensorCoreBody (c: Ctx) (g: Gemm) =
    let t = c.T
    let wm, wn = Tuning.mmaWarps t
    let fm, fn = t.TileM / wm / 16, t.TileN / wn / 8
    let tf32 = tensorOps c
    let s, walk = pipeline c g (Tuning.gemmItems t) (sprintf "%s(%s)" tf32.Round)
    let fragments stage = if Tuning.pipelined t then matrixFragments c s fm fn stage else scalarFragments s fm fn
    let compute stage =
        $$"""
        #pragma unroll
        for (int k = 0; k < {{t.TileK}}; k += 8) {
            float a[{{fm}}][4], bv[{{fn}}][2];
            {{splice 12 (fragments stage)}}
            #pragma unroll
            for (int i = 0; i < {{fm}}; i++) {
                #pragma unroll
                for (int j = 0; j < {{fn}}; j++) {{tf32.Mma}}(acc[i][j], a[i], bv[j]);
            }
        }
        """
    $$"""
    {{splice 4 s.Declare}}
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
    {{splice 4 (walk compute)}}
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

/// The kernel and its launch; pipelined, each block asks for its stages as dynamic shared memory.
let render (c: Ctx) (g: Gemm) : Rendered =
    let t = c.T
    let items = Tuning.gemmItems t
    let pipelined = Tuning.pipelined t
    let body = if t.TensorCores then tensorCoreBody c g else fp32Body c g
    let helpers =
        [ if t.TensorCores then yield! (tensorOps c).Helpers
          if pipelined then yield! (asyncOps c).Helpers ]
    let groups = groupsFor (int64 g.N) t.TileN, groupsFor (int64 g.M) t.TileM, g.Batches
    let run = launch g.Name g.Params groups (items, 1, 1)
    { Source = kernel c g.Name (items, 1, 1) g.Params body
      Launches = [ if pipelined then { run with SharedBytes = int (Tuning.gemmLocalBytes t) } else run ]
      Helpers = helpers }

/// y[n, o] = act(sum over i of x[n, i] * w[o, i] + bias[o]).
let denseForward (c: Ctx) name n inF outF x w (bias: int option) y act =
    let biasParam = bias |> Option.map (fun b -> Read("bias", Buf b)) |> Option.toList
    let value = if bias.IsSome then "sum + bias[gn]" else "sum"
    render c
        { Name = name; M = n; N = outF; K = inF; Batches = 1
          LoadA = fun fetch -> fetch "x" (sprintf "gm * %d + gk" inF)
          LoadB = fun fetch -> fetch "w" (sprintf "gn * %d + gk" inF)
          AAlongK = true
          BAlongK = true
          Store = sprintf "const float r = %s;\ny[gm * %d + gn] = %s;" value outF (activate c.D act "r")
          Params = [ Read("x", Buf x); Read("w", Buf w) ] @ biasParam @ [ Write("y", Buf y) ] }

/// dx[n, i] = sum over o of dy[n, o] * w[o, i].
let denseBackwardData (c: Ctx) name n inF outF dy w dx =
    render c
        { Name = name; M = n; N = inF; K = outF; Batches = 1
          LoadA = fun fetch -> fetch "dy" (sprintf "gm * %d + gk" outF)
          LoadB = fun fetch -> fetch "w" (sprintf "gk * %d + gn" inF)
          AAlongK = true
          BAlongK = false
          Store = sprintf "dx[gm * %d + gn] = sum;" inF
          Params = [ Read("dy", Buf dy); Read("w", Buf w); Write("dx", Buf dx) ] }

/// dw[o, i] = sum over n of dy[n, o] * x[n, i].
let denseBackwardWeights (c: Ctx) name n inF outF x dy dw =
    render c
        { Name = name; M = outF; N = inF; K = n; Batches = 1
          LoadA = fun fetch -> fetch "dy" (sprintf "gk * %d + gm" outF)
          LoadB = fun fetch -> fetch "x" (sprintf "gk * %d + gn" inF)
          AAlongK = false
          BAlongK = false
          Store = sprintf "dw[gm * %d + gn] = sum;" inF
          Params = [ Read("x", Buf x); Read("dy", Buf dy); Write("dw", Buf dw) ] }
