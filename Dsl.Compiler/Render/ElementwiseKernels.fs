/// Kernels that map each element on its own: activations, dropout, batch-norm inference, and (through
/// `elementwise`) the optimizer updates. Where the count and every offset allow, an item handles a
/// dialect vector of elements: one wide load and store per tensor, the arithmetic per component.
module Dsl.Compiler.Render.ElementwiseKernels

open Dsl.Core
open Dsl.Compiler.Render.CStyle

type Elementwise =
    { Name: string
      Count: int64
      /// Tensors read, written, and read then written, one element per index: the body sees each element as a
      /// float variable of the tensor's name and assigns those of `Outputs` and `Updates`.
      Inputs: (string * Arg) list
      Outputs: (string * Arg) list
      Updates: (string * Arg) list
      /// Further parameters the body may use as a whole (scalars, or tensors it indexes itself).
      Extra: Param list
      /// Statements; `idx` is the element's index in the tensors.
      Body: string
      Helpers: string list }

let private lanes = [| "x"; "y"; "z"; "w" |]

let private widthFor (c: Ctx) (e: Elementwise) =
    let tensors = e.Inputs @ e.Outputs @ e.Updates |> List.map snd
    let aligned w = e.Count % int64 w = 0L && tensors |> List.forall (fun a -> match a with Buf id -> c.Offset id % int64 w = 0L | _ -> true)
    if c.T.Vector > 1 && aligned c.T.Vector then c.T.Vector else 1

let render (c: Ctx) (e: Elementwise) : Rendered =
    checkIndex (e.Name + "'s element count") e.Count
    let w = widthFor c e
    let wg = c.T.WorkGroup
    let ps =
        (e.Inputs |> List.map (fun (n, a) -> Read("p_" + n, a)))
        @ ((e.Outputs @ e.Updates) |> List.map (fun (n, a) -> Write("p_" + n, a)))
        @ e.Extra
    let assigned = e.Outputs @ e.Updates |> List.map fst
    let body =
        if w = 1 then
            let loads =
                (e.Inputs |> List.map (fun (n, _) -> sprintf "const float %s = p_%s[idx];" n n))
                @ (e.Outputs |> List.map (fun (n, _) -> sprintf "float %s;" n))
                @ (e.Updates |> List.map (fun (n, _) -> sprintf "float %s = p_%s[idx];" n n))
            let stores = assigned |> List.map (fun n -> sprintf "p_%s[idx] = %s;" n n)
            [ sprintf "const int idx = %s * %d + %s;" (c.D.GroupId 0) wg (c.D.LocalId 0)
              sprintf "if (idx < %d) {" e.Count ]
            @ (loads @ [ dedent e.Body ] @ stores |> List.map (fun l -> "    " + l.Replace("\n", "\n    ")))
            @ [ "}" ]
        else
            let vt = c.D.Vector w
            let wide =
                (e.Inputs @ e.Updates |> List.map (fun (n, _) -> sprintf "const %s v_%s = %s;" vt n (c.D.VectorLoad w ("p_" + n) "i")))
                @ (assigned |> List.map (fun n -> sprintf "%s o_%s;" vt n))
            let lane j =
                let l = lanes[j]
                let get = (e.Inputs |> List.map (fun (n, _) -> sprintf "const float %s = v_%s.%s;" n n l))
                          @ (e.Outputs |> List.map (fun (n, _) -> sprintf "float %s;" n))
                          @ (e.Updates |> List.map (fun (n, _) -> sprintf "float %s = v_%s.%s;" n n l))
                let put = assigned |> List.map (fun n -> sprintf "o_%s.%s = %s;" n l n)
                [ "{"; sprintf "    const int idx = i * %d + %d;" w j ]
                @ (get @ [ dedent e.Body ] @ put |> List.map (fun s -> "    " + s.Replace("\n", "\n    ")))
                @ [ "}" ]
            let stores = assigned |> List.map (fun n -> c.D.VectorStore w ("p_" + n) "i" ("o_" + n))
            [ sprintf "const int i = %s * %d + %s;" (c.D.GroupId 0) wg (c.D.LocalId 0)
              sprintf "if (i < %d) {" (e.Count / int64 w) ]
            @ (wide @ List.concat [ for j in 0 .. w - 1 -> lane j ] @ stores |> List.map (fun l -> "    " + l.Replace("\n", "\n    ")))
            @ [ "}" ]
    { Source = kernel c e.Name (wg, 1, 1) ps (String.concat "\n" body)
      Launches = [ launch e.Name ps (groupsFor (e.Count / int64 w) wg, 1, 1) (wg, 1, 1) ]
      Helpers = e.Helpers }

let private simple name count inputs outputs body =
    { Name = name; Count = count; Inputs = inputs; Outputs = outputs; Updates = []; Extra = []; Body = body; Helpers = [] }

let activationForward (c: Ctx) name (a: Activation) count x y =
    render c (simple name count [ "x", Buf x ] [ "y", Buf y ] (sprintf "y = %s;" (activate c.D (Some a) "x")))

/// dx may be dy: each element is read before it is written.
let activationBackward (c: Ctx) name (a: Activation) count y dy dx =
    render c (simple name count [ "y", Buf y; "dy", Buf dy ] [ "dx", Buf dx ] (sprintf "dx = %s;" (derivative a "y" "dy")))

/// SplitMix64's finaliser, the mixing function of the CPU device's dropout (Cpu/Kernels/Dropout.cs).
let private mixHelper (c: Ctx) =
    let u = c.D.ULong
    $$"""
    {{c.D.FunctionPrefix}} {{u}} dsl_mix({{u}} z)
    {
        z = (z ^ (z >> 30)) * {{c.D.ULongLiteral 0xBF58476D1CE4E5B9UL}};
        z = (z ^ (z >> 27)) * {{c.D.ULongLiteral 0x94D049BB133111EBUL}};
        return z ^ (z >> 31);
    }
    """
    |> dedent

/// The CPU device's mask, bit for bit: the key is mix(layerSeed ^ mix(step + gamma)) with
/// layerSeed = seed * 1000003 + layer (Cpu/CpuStepRunner.cs), and element i keeps its value when the
/// top 24 bits of mix(key + (i + 1) * gamma), as a fraction of 2^24, are at least the rate. A shard starting at sample
/// `first` of a larger batch numbers its elements from first * (count / batch), as the CPU device does.
let dropoutForward (c: Ctx) name count (batch: int) (rate: float) (layer: int) x y mask =
    let p = float32 rate
    let keep = if p >= 1.0f then 0.0f else 1.0f / (1.0f - p)
    let gamma = c.D.ULongLiteral 0x9E3779B97F4A7C15UL
    let u = c.D.ULong
    render c
        { simple name count [ "x", Buf x ] [ "y", Buf y; "mask", Buf mask ]
            $$"""
            const {{u}} key = dsl_mix((seed * 1000003 + {{layer}}) ^ dsl_mix(step + {{gamma}}));
            const float u = (float)(dsl_mix(key + (first * {{count / int64 batch}} + ({{u}})idx + 1) * {{gamma}}) >> 40) * {{flt (1.0f / 16777216.0f)}};
            mask = u < {{flt p}} ? 0.0f : {{flt keep}};
            y = x * mask;
            """
          with
            Extra = [ Value(u, "seed", Seed); Value(u, "step", Step); Value(u, "first", FirstSample) ]
            Helpers = [ mixHelper c ] }

/// dx may be dy.
let dropoutBackward (c: Ctx) name count mask dy dx =
    render c (simple name count [ "mask", Buf mask; "dy", Buf dy ] [ "dx", Buf dx ] "dx = dy * mask;")

/// Inference: y = gamma * (x - runningMean) / sqrt(runningVar + eps) + beta, as one fused multiply-add.
let batchNormInference (c: Ctx) name n ch hw (spec: BatchNormSpec) x gamma beta y rm rv =
    render c
        { simple name (int64 n * int64 ch * int64 hw) [ "x", Buf x ] [ "y", Buf y ]
            $$"""
            const int c = (idx / {{hw}}) % {{ch}};
            const float a = gamma[c] * (1.0f / {{c.D.Math "sqrt"}}(rv[c] + {{fltOf spec.Eps}}));
            y = {{c.D.Math "fma"}}(x, a, beta[c] - rm[c] * a);
            """
          with Extra = [ Read("gamma", Buf gamma); Read("beta", Buf beta); Read("rm", Buf rm); Read("rv", Buf rv) ] }
