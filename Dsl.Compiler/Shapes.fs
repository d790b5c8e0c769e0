/// Shape inference: every layer's output shape, parameter count, multiply-adds and activation size,
/// with located errors where a layer cannot take its input.
module Dsl.Compiler.Shapes

open Dsl.Core
open Dsl.Compiler.Diagnostics

type LayerInfo =
    { Node: Node
      Input: Shape
      Output: Shape
      /// Trainable parameters (batch norm's running statistics are not counted).
      Params: int64
      /// Multiply-adds of the forward pass for one example.
      MultiplyAdds: int64
      /// Bytes of the output activation for one example (float32).
      ActivationBytes: int64 }

type Inferred =
    { Network: Network
      Layers: LayerInfo list
      TotalParams: int64
      TotalMultiplyAdds: int64
      /// The largest input + output of any one layer, per example: what inference must hold at once.
      PeakActivationBytes: int64 }

let private chw (n: Node) (s: Shape) =
    match s with
    | Chw (c, h, w) -> c, h, w
    | Flat k ->
        errorHint n.Pos (sprintf "%s expects a CxHxW input, got the flat vector %d" (Layer.keyword n.Layer) k)
            (sprintf "move %s before flatten" (Layer.keyword n.Layer))

/// Output length along one axis, rounded as the layer says; None for rounding means it must come out whole.
let private outSize (n: Node) axis input kernel stride pad (rounding: Rounding option) ceilClamp =
    let span = input + 2 * pad - kernel
    if span < 0 then
        errorHint n.Pos (sprintf "%s window %d is larger than its %s input %d%s" (Layer.keyword n.Layer) kernel axis input
                            (if pad > 0 then sprintf " padded by %d on each side" pad else ""))
            "use a smaller kernel, more padding, or remove a pooling layer before it"
    match rounding with
    | None when span % stride <> 0 ->
        errorHint n.Pos
            (sprintf "%s output %s (%d + 2*%d - %d) / %d + 1 = %.2f is not a whole number" (Layer.keyword n.Layer) axis input pad kernel stride
                 (float span / float stride + 1.0))
            "change pad or kernel so that it divides, or add `floor` or `ceil` to choose the rounding"
    | None | Some Floor -> span / stride + 1
    | Some Ceil ->
        let o = (span + stride - 1) / stride + 1
        // As Caffe and PyTorch: the last window must start inside the input or its left padding.
        if ceilClamp && (o - 1) * stride >= input + pad then o - 1 else o

let private infer1 (isLast: bool) (n: Node) (input: Shape) : Shape * int64 * int64 =
    match n.Layer with
    | Conv c ->
        let ch, h, w = chw n input
        if ch % c.Groups <> 0 then
            errorHint n.Pos (sprintf "conv groups %d do not divide its %d input channels" c.Groups ch) "choose groups that divide both the input channels and the filters"
        if c.Filters % c.Groups <> 0 then
            errorHint n.Pos (sprintf "conv groups %d do not divide its %d filters" c.Groups c.Filters) "choose groups that divide both the input channels and the filters"
        let (kh, kw), (sh, sw), (ph, pw) = c.Kernel, c.Stride, c.Pad
        let ho = outSize n "height" h kh sh ph c.Rounding false
        let wo = outSize n "width" w kw sw pw c.Rounding false
        let perFilter = int64 (ch / c.Groups) * int64 kh * int64 kw
        Chw(c.Filters, ho, wo), int64 c.Filters * perFilter + (if c.Bias then int64 c.Filters else 0L), int64 c.Filters * perFilter * int64 ho * int64 wo
    | Pool p ->
        let ch, h, w = chw n input
        let (kh, kw), (sh, sw), (ph, pw) = p.Size, p.Stride, p.Pad
        Chw(ch, outSize n "height" h kh sh ph (Some p.Rounding) true, outSize n "width" w kw sw pw (Some p.Rounding) true), 0L, 0L
    | Lrn l ->
        let _ = chw n input
        input, 0L, int64 input.Elements * int64 l.Size
    | Dense d ->
        match input with
        | Flat k -> Flat d.Units, int64 k * int64 d.Units + (if d.Bias then int64 d.Units else 0L), int64 k * int64 d.Units
        | s -> errorHint n.Pos (sprintf "dense expects a flat input, got %O" s) "add `flatten` before it"
    | BatchNorm _ ->
        let channels = match input with Chw (c, _, _) -> c | Flat k -> k
        input, 2L * int64 channels, 0L
    | Dropout _ | Act _ -> input, 0L, 0L
    | Flatten -> Flat input.Elements, 0L, 0L
    | Softmax ->
        if not isLast then errorHint n.Pos "softmax must be the last layer" "the loss is computed from softmax; move layers after it before it"
        match input with
        | Flat _ -> input, 0L, 0L
        | s -> errorHint n.Pos (sprintf "softmax expects a flat input, got %O" s) "add `flatten` and a `dense` layer before it"

/// Infers every layer's shape; raises ModelFileError at the first layer that cannot take its input.
let infer (net: Network) : Inferred =
    let count = net.Nodes.Length
    let layers, _ =
        net.Nodes
        |> List.mapi (fun i n -> i, n)
        |> List.mapFold (fun input (i, n) ->
            let output, ps, macs = infer1 (i = count - 1) n input
            { Node = n; Input = input; Output = output; Params = ps; MultiplyAdds = macs; ActivationBytes = 4L * int64 output.Elements }, output) net.Input
    { Network = net
      Layers = layers
      TotalParams = layers |> List.sumBy (fun l -> l.Params)
      TotalMultiplyAdds = layers |> List.sumBy (fun l -> l.MultiplyAdds)
      PeakActivationBytes = layers |> List.map (fun l -> 4L * int64 l.Input.Elements + l.ActivationBytes) |> List.fold max (4L * int64 net.Input.Elements) }
