/// Shape inference: every layer's output shape, parameter count, multiply-adds and activation size,
/// with located errors where a layer cannot take its input.
module Dsl.Compiler.Shapes

open Dsl.Core
open Dsl.Compiler.Diagnostics
// Parameter and multiply-add counts are checked: an overflow is a located error, not a negative count.
open Microsoft.FSharp.Core.Operators.Checked

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

/// The most elements one activation may have (one example); sizes are ints throughout the compiler and runtime.
let maxElements = int64 System.Int32.MaxValue

/// Output length along one axis, rounded as the layer says; None for rounding means it must come out whole.
/// Computed in 64 bits: `pad` and `kernel` may each be up to 2^31 - 1.
let private outSize (n: Node) axis (input: int) (kernel: int) (stride: int) (pad: int) (rounding: Rounding option) ceilClamp : int =
    let input, kernel, stride, pad = int64 input, int64 kernel, int64 stride, int64 pad
    let span = input + 2L * pad - kernel
    if span < 0 then
        errorHint n.Pos (sprintf "%s window %d is larger than its %s input %d%s" (Layer.keyword n.Layer) kernel axis input
                            (if pad > 0 then sprintf " padded by %d on each side" pad else ""))
            "use a smaller kernel, more padding, or remove a pooling layer before it"
    let whole =
        match rounding with
        | None when span % stride <> 0L ->
            errorHint n.Pos
                (sprintf "%s output %s (%d + 2*%d - %d) / %d + 1 = %.2f is not a whole number" (Layer.keyword n.Layer) axis input pad kernel stride
                     (float span / float stride + 1.0))
                "change pad or kernel so that it divides, or add `floor` or `ceil` to choose the rounding"
        | None | Some Floor -> span / stride + 1L
        | Some Ceil ->
            let o = (span + stride - 1L) / stride + 1L
            // As Caffe and PyTorch: the last window must start inside the input or its left padding.
            if ceilClamp && (o - 1L) * stride >= input + pad then o - 1L else o
    if whole > maxElements then
        errorHint n.Pos (sprintf "%s output %s would be %d, too large" (Layer.keyword n.Layer) axis whole) "use less padding"
    int whole

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

/// Elements of a shape without wrapping around: None when it does not fit an int.
let elements (s: Shape) =
    let n = match s with Chw (c, h, w) -> float c * float h * float w | Flat k -> float k
    if n > float maxElements then None else Some(int64 n)

let private tooLarge (n: Node) what =
    errorHint n.Pos (sprintf "%s: the %s is too large to count" n.Name what) "use fewer or smaller layers"

/// Infers every layer's shape; raises ModelFileError at the first layer that cannot take its input.
let infer (net: Network) : Inferred =
    if (elements net.Input).IsNone then
        let p = match net.Nodes with n :: _ -> n.Pos | [] -> Pos.None
        errorHint p (sprintf "the input %O has more than %d elements" net.Input maxElements) "use a smaller input"
    let count = net.Nodes.Length
    let layers, _ =
        net.Nodes
        |> List.mapi (fun i n -> i, n)
        |> List.mapFold (fun input (i, n) ->
            let output, ps, macs =
                try infer1 (i = count - 1) n input
                with :? System.OverflowException -> tooLarge n "parameter or multiply-add count"
            if (elements output).IsNone then
                errorHint n.Pos (sprintf "%s output %O has more than %d elements" (Layer.keyword n.Layer) output maxElements) "use fewer filters or a larger stride"
            { Node = n; Input = input; Output = output; Params = ps; MultiplyAdds = macs; ActivationBytes = 4L * int64 output.Elements }, output) net.Input
    let total f =
        layers |> List.fold (fun (acc: int64) l ->
            try Checked.(+) acc (f l) with :? System.OverflowException -> tooLarge l.Node "network's total parameter or multiply-add count") 0L
    { Network = net
      Layers = layers
      TotalParams = total (fun l -> l.Params)
      TotalMultiplyAdds = total (fun l -> l.MultiplyAdds)
      PeakActivationBytes = layers |> List.map (fun l -> 4L * int64 l.Input.Elements + l.ActivationBytes) |> List.fold max (4L * int64 net.Input.Elements) }
