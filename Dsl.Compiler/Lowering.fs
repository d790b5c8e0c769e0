/// Stages 4 and 5: turns an inferred network into the kernels of one step. The forward pass fuses
/// bias and activation into the conv or dense before them; the backward pass is derived layer by layer
/// in reverse (reverse-mode differentiation), each layer's gradient kernels reading what its forward kept.
module Dsl.Compiler.Lowering

open Dsl.Core
open Dsl.Compiler.Shapes

type private Builder(batch: int) =
    let buffers = ResizeArray<Buffer>()
    member _.Batch = batch
    member _.Buffers = buffers.ToArray()
    member _.Add(name, floats: int64, kind, ?fanIn, ?fanOut) =
        let id = buffers.Count
        buffers.Add { Id = id; Name = name; Floats = floats; Kind = kind; FanIn = defaultArg fanIn 0; FanOut = defaultArg fanOut 0 }
        id
    /// A per-example tensor of the batch.
    member b.PerExample(name, (s: Shape), kind) = b.Add(name, int64 batch * int64 s.Elements, kind)

/// The backward of one layer: given the buffer holding dL/dy, emits its kernels and returns dL/dx's buffer.
type private Backward = { Emit: int -> bool -> Kernel list * int; Layer: int }

let private convGeom n (inp: Shape) (out: Shape) (c: ConvSpec) : ConvGeom =
    match inp, out with
    | Chw (ch, h, w), Chw (k, ho, wo) ->
        { N = n; C = ch; H = h; W = w; K = k; R = fst c.Kernel; S = snd c.Kernel; StrideH = fst c.Stride; StrideW = snd c.Stride
          PadH = fst c.Pad; PadW = snd c.Pad; Groups = c.Groups; Ho = ho; Wo = wo }
    | _ -> invalidOp "conv shapes are checked by inference"

let private poolGeom n (inp: Shape) (out: Shape) (p: PoolSpec) : PoolGeom =
    match inp, out with
    | Chw (ch, h, w), Chw (_, ho, wo) ->
        { N = n; C = ch; H = h; W = w; R = fst p.Size; S = snd p.Size; StrideH = fst p.Stride; StrideW = snd p.Stride
          PadH = fst p.Pad; PadW = snd p.Pad; Ho = ho; Wo = wo }
    | _ -> invalidOp "pool shapes are checked by inference"

let private chwOf (s: Shape) = match s with Chw (c, h, w) -> c, h, w | Flat k -> k, 1, 1

/// Lowers a network for a batch size, in training (forward + backward) or inference (forward only) mode.
let lower (mode: PlanMode) (batch: int) (inf: Inferred) : Plan =
    let b = Builder batch
    let training = (mode = Training)
    let n = batch
    let images = b.PerExample("input", inf.Network.Input, InputImages)
    let labels = b.Add("labels", int64 n, InputLabels)
    let classes = (List.last inf.Layers).Output.Elements
    let probs = b.Add("probs", int64 n * int64 classes, Probabilities)
    let config = inf.Network.Train |> Option.defaultValue TrainConfig.defaults
    let names = inf.Layers |> List.map (fun l -> l.Node.Name)
    let covered ranges = ranges |> List.collect (TrainConfig.expandRange names >> Option.defaultValue []) |> Set.ofList
    let frozen = covered config.Freeze
    let multiplier pairs layer = pairs |> List.tryFindBack (fun (r, _) -> (covered [ r ]).Contains layer) |> Option.map snd |> Option.defaultValue 1.0
    let indexOf = names |> List.mapi (fun i n -> n, i) |> Map.ofList
    let parms = ResizeArray<ParamRef>()
    // A frozen layer's parameters get no update; its gradient buffers still exist for kernels that write them.
    let param (layer: string) role floats fanIn fanOut =
        let v = b.Add(layer + "." + role, floats, Parameter, fanIn, fanOut)
        let g = b.Add(layer + "." + role + ".grad", floats, ParameterGrad)
        if not (frozen.Contains layer) then
            parms.Add { Layer = layer; Role = role; Value = v; Grad = g; LrMult = multiplier config.LrMult layer; DecayMult = multiplier config.DecayMult layer }
        v, g
    let classWeights = match config.ClassWeights with Uniform -> None | _ -> Some(b.Add("class_weights", int64 classes, BufferKind.Constant))
    let grad name (s: Shape) = b.PerExample(name + ".grad", s, Gradient)

    // Walk forward, fusing an activation into the conv/dense before it; collect each layer's backward.
    let rec walk (layers: LayerInfo list) (x: int) (fwd: Kernel list) (bwd: Backward list) =
        match layers with
        | [] -> List.rev fwd, bwd, x
        | l :: rest ->
            let name = l.Node.Name
            let at = indexOf[name]
            let fused, rest' =
                match l.Node.Layer, rest with
                | (Conv _ | Dense _), { Node = { Layer = Act a } } :: more -> Some a, more
                | _ -> None, rest
            let outName = match fused with Some _ -> name + "+" + Layer.keyword (Act fused.Value) | None -> name
            let actBack y dy = match fused with Some a -> [ ActivationBackward(a, int64 n * int64 l.Output.Elements, y, dy, dy) ] | None -> []
            match l.Node.Layer with
            | Conv c ->
                let g = convGeom n l.Input l.Output c
                let fanIn = (g.C / g.Groups) * g.R * g.S
                let w, dw = param name "weight" (int64 g.K * int64 fanIn) fanIn (g.K / g.Groups * g.R * g.S)
                let bias = if c.Bias then Some(param name "bias" (int64 g.K) fanIn 0) else None
                let y = b.PerExample(outName, l.Output, Activation)
                let back dy needDx =
                    let dx = if needDx then Some(grad name l.Input) else None
                    actBack y dy @ (if frozen.Contains name then [] else [ ConvBackwardFilter(g, x, dy, dw, Option.map snd bias) ])
                    @ (dx |> Option.map (fun dx -> ConvBackwardData(g, dy, w, dx)) |> Option.toList), defaultArg dx -1
                walk rest' y (ConvForward(g, x, w, Option.map fst bias, y, fused) :: fwd) ({ Emit = back; Layer = at } :: bwd)
            | Dense d ->
                let inF = l.Input.Elements
                let w, dw = param name "weight" (int64 d.Units * int64 inF) inF d.Units
                let bias = if d.Bias then Some(param name "bias" (int64 d.Units) inF 0) else None
                let y = b.PerExample(outName, l.Output, Activation)
                let back dy needDx =
                    let dx = if needDx then Some(grad name l.Input) else None
                    actBack y dy @ (if frozen.Contains name then [] else [ DenseBackwardWeights(n, inF, d.Units, x, dy, dw, Option.map snd bias) ])
                    @ (dx |> Option.map (fun dx -> DenseBackwardData(n, inF, d.Units, dy, w, dx)) |> Option.toList), defaultArg dx -1
                walk rest' y (DenseForward(n, inF, d.Units, x, w, Option.map fst bias, y, fused) :: fwd) ({ Emit = back; Layer = at } :: bwd)
            | Pool p ->
                let g = poolGeom n l.Input l.Output p
                let y = b.PerExample(name, l.Output, Activation)
                match p.Kind with
                | MaxPool ->
                    let arg = b.PerExample(name + ".argmax", l.Output, Saved)
                    let back dy _ = let dx = grad name l.Input in [ MaxPoolBackward(g, dy, arg, dx) ], dx
                    walk rest y (MaxPoolForward(g, x, y, arg) :: fwd) ({ Emit = back; Layer = at } :: bwd)
                | AvgPool ->
                    let back dy _ = let dx = grad name l.Input in [ AvgPoolBackward(g, dy, dx) ], dx
                    walk rest y (AvgPoolForward(g, x, y) :: fwd) ({ Emit = back; Layer = at } :: bwd)
            | Lrn spec ->
                let c, h, w = chwOf l.Input
                let y = b.PerExample(name, l.Output, Activation)
                let scale = b.PerExample(name + ".scale", l.Output, Saved)
                let back dy _ = let dx = grad name l.Input in [ LrnBackward(n, c, h, w, spec, x, y, scale, dy, dx) ], dx
                walk rest y (LrnForward(n, c, h, w, spec, x, y, scale) :: fwd) ({ Emit = back; Layer = at } :: bwd)
            | Act a ->
                let count = int64 n * int64 l.Output.Elements
                let y = b.PerExample(name, l.Output, Activation)
                let back dy _ = [ ActivationBackward(a, count, y, dy, dy) ], dy
                walk rest y (ActivationForward(a, count, x, y) :: fwd) ({ Emit = back; Layer = at } :: bwd)
            | Dropout rate when training && rate > 0.0 ->
                let count = int64 n * int64 l.Output.Elements
                let y = b.PerExample(name, l.Output, Activation)
                let mask = b.PerExample(name + ".mask", l.Output, Saved)
                let back dy _ = [ DropoutBackward(count, mask, dy, dy) ], dy
                walk rest y (DropoutForward(count, rate, at, x, y, mask) :: fwd) ({ Emit = back; Layer = at } :: bwd)
            | Dropout _ | Flatten ->
                // Dropout at inference and flatten change nothing in memory: the same buffer flows on.
                walk rest x fwd ({ Emit = (fun dy _ -> [], dy); Layer = at } :: bwd)
            | BatchNorm spec ->
                let c, h, w = chwOf l.Input
                let gamma, dgamma = param name "gamma" (int64 c) 0 0
                let beta, dbeta = param name "beta" (int64 c) 0 0
                let rm = b.Add(name + ".running_mean", int64 c, RunningStat)
                let rv = b.Add(name + ".running_var", int64 c, RunningStat)
                let mean = b.Add(name + ".mean", int64 c, Saved)
                let invStd = b.Add(name + ".invstd", int64 c, Saved)
                let y = b.PerExample(name, l.Output, Activation)
                let back dy needDx =
                    let dx = grad name l.Input
                    [ BatchNormBackward(n, c, h * w, x, dy, gamma, mean, invStd, dx, dgamma, dbeta) ], dx
                walk rest y (BatchNormForward(n, c, h * w, spec, training, x, gamma, beta, y, mean, invStd, rm, rv) :: fwd) ({ Emit = back; Layer = at } :: bwd)
            | Softmax ->
                let dlogits = if training then Some(b.PerExample(name + ".grad", l.Input, Gradient)) else None
                walk rest x (SoftmaxCrossEntropy(n, classes, x, labels, probs, dlogits) :: fwd) bwd

    let forward, backwards, _ = walk inf.Layers images [] []
    let kernels =
        if not training then forward
        else
            let dlogits = forward |> List.pick (function SoftmaxCrossEntropy (Dlogits = Some d) -> Some d | _ -> None)
            // backwards is last layer first. Below the lowest layer that trains, no gradient is needed at all,
            // and that layer needs no input gradient: frozen feature extractors cost only their forward pass.
            let trains (l: LayerInfo) = l.Params > 0L && not (frozen.Contains l.Node.Name)
            let lowest = inf.Layers |> List.tryFindIndex trains |> Option.defaultValue inf.Layers.Length
            // Each layer's kernels gathered last first and joined once: appending to the list layer by layer was
            // quadratic (99,000 layers planned for minutes).
            let back, _ =
                backwards |> List.filter (fun bw -> bw.Layer >= lowest)
                |> List.fold (fun (acc, dy) bw ->
                    let ks, dx = bw.Emit dy (bw.Layer > lowest)
                    ks :: acc, dx) ([], dlogits)
            forward @ List.concat (List.rev back)
    { Network = inf.Network.Name; Mode = mode; Batch = batch; Buffers = b.Buffers; Kernels = kernels; Params = List.ofSeq parms
      Images = images; Labels = labels; Probs = probs; Classes = classes; ClassWeights = classWeights; Offsets = Map.empty; ArenaFloats = 0L }
