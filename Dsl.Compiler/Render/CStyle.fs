/// The pieces every kernel template shares: what the host passes, how a kernel function is laid out,
/// literals, activations, and the work-group reduction. Written once against a Dialect.
module Dsl.Compiler.Render.CStyle

open System
open System.Globalization
open Dsl.Core
open Dsl.Compiler.Render.Dialect

/// What the host passes for one kernel parameter.
type Arg =
    /// A plan buffer: the runtime passes the memory that holds it (the step's arena, or the parameter's own
    /// buffer); where the buffer starts in that memory is a constant in the source.
    | Buf of id: int
    /// The runner's per-example losses: batch floats of weighted losses, then batch floats of their class
    /// weights (all 1 without class weights); the host sums both in double and divides.
    | Losses
    /// The run's seed and the step number, as unsigned 64-bit values: dropout masks derive from them.
    | Seed
    | Step
    /// Where the step's batch starts in a larger one (a data-parallel process's shard), as an unsigned 64-bit sample
    /// index: dropout draws the masks the larger batch gives those samples.
    | FirstSample
    /// An optimizer update's tensors: the parameter, its gradient and its two state tensors.
    | Weight
    | WeightGrad
    | State1
    | State2
    /// Floats of an update, per tensor and step: the learning rate and weight decay (each scaled by the tensor's
    /// factor); Adam's lr / (1 - beta1^t) and 1 / sqrt(1 - beta2^t).
    | LearningRate
    | WeightDecay
    | AdamStepSize
    | AdamInvSqrtBias2

/// One kernel launch: the function, its arguments in order, the grid in work-groups of `Local` items, and the bytes of
/// dynamic shared memory each block asks for (the pipelined GEMM's stages; 0 for every other kernel and in OpenCL).
type Launch =
    { Function: string
      Args: Arg list
      Groups: int * int * int
      Local: int * int * int
      SharedBytes: int }

/// A plan kernel rendered: its functions, the launches that run it in order, and the helper
/// functions it calls (emitted once per program, before the kernels).
type Rendered =
    { Source: string
      Launches: Launch list
      Helpers: string list }

/// A kernel parameter as the template sees it: a float or int pointer (read-only or written) or a scalar.
type Param =
    | Read of name: string * Arg
    | Write of name: string * Arg
    | ReadInt of name: string * Arg
    | WriteInt of name: string * Arg
    | Value of ctype: string * name: string * Arg

/// What every template needs: the dialect, the tile sizes, and where each plan buffer starts in the memory passed for it.
type Ctx =
    { D: Dialect
      T: Tuning
      Offset: int -> int64 }

/// A float32 constant that reads back as exactly the same float.
let flt (x: float32) =
    if Single.IsNaN x || Single.IsInfinity x then invalidArg "x" (sprintf "no C literal for %g" x)
    let s = x.ToString("R", CultureInfo.InvariantCulture)
    (if s.Contains '.' || s.Contains 'E' then s else s + ".0") + "f"

let fltOf (x: float) = flt (float32 x)

/// Removes the indentation an F# string literal carries (that of its first line), and a leading line break.
/// Lines indented less, such as those of a snippet spliced in, keep what they have.
let dedent (text: string) =
    let lines = text.Replace("\r", "").TrimStart('\n').TrimEnd().Split '\n'
    let indent = lines[0].Length - lines[0].TrimStart().Length
    let strip (l: string) =
        let lead = l.Length - l.TrimStart().Length
        l.Substring(min indent lead)
    lines |> Array.map strip |> String.concat "\n"

/// A multi-line snippet for a template placeholder that sits `column` spaces in from the literal's left edge:
/// its later lines get the same indentation, so the generated source reads as if written by hand.
let splice (column: int) (text: string) = (dedent text).Replace("\n", "\n" + String(' ', column))

let private indentBy n (text: string) =
    text.Split '\n' |> Array.map (fun l -> if l = "" then l else String(' ', n) + l) |> String.concat "\n"

/// The generated kernels index with 32-bit integers: every buffer and offset must fit.
let checkIndex what (value: int64) =
    if value > int64 Int32.MaxValue then
        failwithf "%s is %d floats; generated kernels index with 32-bit integers (at most %d); lower the batch size" what value Int32.MaxValue

let private offsetOf (c: Ctx) arg =
    match arg with
    | Buf id ->
        let o = c.Offset id
        checkIndex (sprintf "the offset of buffer %d" id) o
        o
    | _ -> 0L

/// A kernel function: signature, one line per pointer placing it at its buffer's offset, then the body.
let kernel (c: Ctx) (name: string) (local: int * int * int) (ps: Param list) (body: string) =
    let g = c.D.Global
    let param p =
        match p with
        | Read (n, _) | Write (n, _) | ReadInt (n, _) | WriteInt (n, _) -> sprintf "%sfloat* %s_" g n
        | Value (t, n, _) -> sprintf "const %s %s" t n
    let place p =
        match p with
        | Read (n, a) -> Some(sprintf "%sconst float* %s = %s_ + %d;" g n n (offsetOf c a))
        | Write (n, a) -> Some(sprintf "%sfloat* %s = %s_ + %d;" g n n (offsetOf c a))
        | ReadInt (n, a) -> Some(sprintf "%sconst int* %s = (%sconst int*)(%s_ + %d);" g n g n (offsetOf c a))
        | WriteInt (n, a) -> Some(sprintf "%sint* %s = (%sint*)(%s_ + %d);" g n g n (offsetOf c a))
        | Value _ -> None
    let signature = sprintf "%s %s(%s)" (c.D.KernelPrefix local) name (ps |> List.map param |> String.concat ", ")
    let places = ps |> List.choose place |> String.concat "\n"
    sprintf "%s\n{\n%s\n%s\n}\n" signature (indentBy 4 places) (indentBy 4 (dedent body))

/// The host arguments of a parameter list, in order.
let args (ps: Param list) =
    ps |> List.map (function Read (_, a) | Write (_, a) | ReadInt (_, a) | WriteInt (_, a) | Value (_, _, a) -> a)

let launch name (ps: Param list) groups local = { Function = name; Args = args ps; Groups = groups; Local = local; SharedBytes = 0 }

/// Work-groups needed to cover `count` items, `per` at a time.
let groupsFor (count: int64) (per: int) =
    let g = (count + int64 per - 1L) / int64 per
    checkIndex "a launch's work-group count" g
    int g

/// A kernel with one item per index `i` below `count`; items past the end return at once, so the body
/// must not reach a barrier.
let perItem (c: Ctx) name ps (count: int64) body =
    checkIndex (name + "'s item count") count
    let wg = c.T.WorkGroup
    let body = sprintf "const int i = %s * %d + %s;\nif (i >= %d) return;\n%s" (c.D.GroupId 0) wg (c.D.LocalId 0) count (dedent body)
    { Source = kernel c name (wg, 1, 1) ps body
      Launches = [ launch name ps (groupsFor count wg, 1, 1) (wg, 1, 1) ]
      Helpers = [] }

/// An activation applied to the variable `v`.
let activate (d: Dialect) (a: Activation option) (v: string) =
    match a with
    | None -> v
    | Some Relu -> sprintf "%s(%s, 0.0f)" (d.Math "fmax") v
    | Some (LeakyRelu slope) -> sprintf "(%s > 0.0f ? %s : %s * %s)" v v v (fltOf slope)
    | Some Tanh -> sprintf "%s(%s)" (d.Math "tanh") v
    | Some Sigmoid -> sprintf "(1.0f / (1.0f + %s(-%s)))" (d.Math "exp") v

/// dL/dx of an activation from its output `y` and the incoming gradient `dy` (both variables).
let derivative (a: Activation) (y: string) (dy: string) =
    match a with
    | Relu -> sprintf "(%s > 0.0f ? %s : 0.0f)" y dy
    | LeakyRelu slope -> sprintf "(%s > 0.0f ? %s : %s * %s)" y dy (fltOf slope) dy
    | Tanh -> sprintf "%s * (1.0f - %s * %s)" dy y y
    | Sigmoid -> sprintf "%s * %s * (1.0f - %s)" dy y y

/// Sums each item's `value` over the work-group through the local array `scratch` (WorkGroup floats);
/// every item then holds the total in the new variable `into`. Needs `tid` (the item's index), a
/// power-of-two work-group, and every item of the group to reach it.
let reduceSum (c: Ctx) (scratch: string) (value: string) (into: string) =
    $$"""
    {{scratch}}[tid] = {{value}};
    {{c.D.Barrier}}
    for (int s = {{c.T.WorkGroup / 2}}; s > 0; s >>= 1) {
        if (tid < s) {{scratch}}[tid] += {{scratch}}[tid + s];
        {{c.D.Barrier}}
    }
    const float {{into}} = {{scratch}}[0];
    {{c.D.Barrier}}
    """
    |> dedent
