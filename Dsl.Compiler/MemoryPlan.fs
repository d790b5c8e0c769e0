/// Stage 6: places every per-step buffer in one arena, reusing space between buffers whose lifetimes
/// (first to last kernel that touches them) do not overlap. Parameters live outside the arena.
module Dsl.Compiler.MemoryPlan

open Dsl.Core

/// The buffers a kernel reads or writes.
let touches (k: Kernel) : int list =
    match k with
    | ConvForward (_, x, w, b, y, _) -> [ x; w; y ] @ Option.toList b
    | ConvBackwardData (_, dy, w, dx) -> [ dy; w; dx ]
    | ConvBackwardFilter (_, x, dy, dw, db) -> [ x; dy; dw ] @ Option.toList db
    | DenseForward (_, _, _, x, w, b, y, _) -> [ x; w; y ] @ Option.toList b
    | DenseBackwardData (_, _, _, dy, w, dx) -> [ dy; w; dx ]
    | DenseBackwardWeights (_, _, _, x, dy, dw, db) -> [ x; dy; dw ] @ Option.toList db
    | ActivationForward (_, _, x, y) -> [ x; y ]
    | ActivationBackward (_, _, y, dy, dx) -> [ y; dy; dx ]
    | MaxPoolForward (_, x, y, a) -> [ x; y; a ]
    | MaxPoolBackward (_, dy, a, dx) -> [ dy; a; dx ]
    | AvgPoolForward (_, x, y) -> [ x; y ]
    | AvgPoolBackward (_, dy, dx) -> [ dy; dx ]
    | LrnForward (_, _, _, _, _, x, y, s) -> [ x; y; s ]
    | LrnBackward (_, _, _, _, _, x, y, s, dy, dx) -> [ x; y; s; dy; dx ]
    | DropoutForward (_, _, _, x, y, m) -> [ x; y; m ]
    | DropoutBackward (_, m, dy, dx) -> [ m; dy; dx ]
    | BatchNormForward (_, _, _, _, _, x, g, b, y, m, s, rm, rv) -> [ x; g; b; y; m; s; rm; rv ]
    | BatchNormBackward (_, _, _, x, dy, g, m, s, dx, dg, db) -> [ x; dy; g; m; s; dx; dg; db ]
    | SoftmaxCrossEntropy (_, _, l, lab, p, d) -> [ l; lab; p ] @ Option.toList d

/// A kernel for people: its kind and the buffer it produces (`ConvForward conv1+relu`).
let describe (p: Plan) (k: Kernel) =
    let kind = (sprintf "%A" k).Split([| ' '; '\n'; '(' |], System.StringSplitOptions.RemoveEmptyEntries)[0]
    let out =
        match k with
        | ConvForward (Y = y) | DenseForward (Y = y) | ActivationForward (Y = y) | MaxPoolForward (Y = y) | AvgPoolForward (Y = y)
        | LrnForward (Y = y) | DropoutForward (Y = y) | BatchNormForward (Y = y) -> y
        | ConvBackwardData (Dx = d) | DenseBackwardData (Dx = d) | ActivationBackward (Dx = d) | MaxPoolBackward (Dx = d)
        | AvgPoolBackward (Dx = d) | LrnBackward (Dx = d) | DropoutBackward (Dx = d) | BatchNormBackward (Dx = d) -> d
        | ConvBackwardFilter (Dw = d) | DenseBackwardWeights (Dw = d) -> d
        | SoftmaxCrossEntropy (Probs = pr) -> pr
    kind + " " + p.Buffers[out].Name

let private inArena (b: Buffer) =
    match b.Kind with
    | Parameter | ParameterGrad | RunningStat | BufferKind.Constant -> false
    | _ -> true

/// 64-byte alignment, so vector loads never straddle a cache line at a buffer's start.
let private align (floats: int64) = (floats + 15L) / 16L * 16L

let plan (p: Plan) : Plan =
    let count = p.Kernels.Length
    let first = Array.create p.Buffers.Length System.Int32.MaxValue
    let last = Array.create p.Buffers.Length -1
    p.Kernels |> List.iteri (fun i k -> for id in touches k do first[id] <- min first[id] i; last[id] <- max last[id] i)
    // Inputs are written before the first kernel and kept whole, so a batch can be run again;
    // probabilities are read after the last kernel.
    for id in [ p.Images; p.Labels ] do
        first[id] <- -1
        last[id] <- count
    first[p.Probs] <- min first[p.Probs] (count - 1)
    last[p.Probs] <- count
    let live = p.Buffers |> Array.filter (fun b -> inArena b && last[b.Id] >= first[b.Id])
    // Largest first, each at the lowest offset free over its whole lifetime. Every buffer is compared with every one
    // placed before it, so the loops stay on flat arrays: a 100,000-layer network has 600,000 buffers.
    let order = live |> Array.sortBy (fun b -> -b.Floats, b.Id)
    let n = order.Length
    let placedStart, placedEnd = Array.zeroCreate<int64> n, Array.zeroCreate<int64> n
    let placedFirst, placedLast = Array.zeroCreate<int> n, Array.zeroCreate<int> n
    let clashStart, clashEnd = Array.zeroCreate<int64> n, Array.zeroCreate<int64> n
    let mutable arena = 0L
    for i in 0 .. n - 1 do
        let b = order[i]
        let size, f, l = align b.Floats, first[b.Id], last[b.Id]
        let mutable clashes = 0
        for j in 0 .. i - 1 do
            if placedFirst[j] <= l && f <= placedLast[j] then
                clashStart[clashes] <- placedStart[j]
                clashEnd[clashes] <- placedEnd[j]
                clashes <- clashes + 1
        System.Array.Sort(clashStart, clashEnd, 0, clashes)
        // By start: the first gap that fits; past it every clash starts later, so the search can stop.
        let mutable offset = 0L
        let mutable c = 0
        while c < clashes && offset + size > clashStart[c] do
            offset <- max offset clashEnd[c]
            c <- c + 1
        placedStart[i] <- offset
        placedEnd[i] <- offset + size
        placedFirst[i] <- f
        placedLast[i] <- l
        arena <- max arena (offset + size)
    let offsets = Array.init n (fun i -> order[i].Id, placedStart[i]) |> Map.ofArray
    { p with Offsets = offsets; ArenaFloats = arena }

/// The bytes one step needs on a device: the arena plus parameters, their gradients and running statistics.
let deviceBytes (p: Plan) =
    let persistent = p.Buffers |> Array.filter (inArena >> not) |> Array.sumBy (fun b -> b.Floats)
    4L * (p.ArenaFloats + persistent)

/// Compiles an inferred network to a planned step.
let compile mode batch inf = Lowering.lower mode batch inf |> plan
