/// F# combinators that read like a model file:
///   network "lenet" (input 1 28 28) [ conv 6 [kernel 5; pad 2]; relu; maxpool 2 []; flatten; dense 10 []; softmax ]
/// Functions and repetition are ordinary F#: `yield! List.replicate 2 (conv 64 [kernel 3])`.
module Dsl.Core.Build

/// An option of a layer, as the keyword of the same name in a model file.
type Opt =
    | Kernel of int
    | Stride of int
    | Pad of int
    | Groups of int
    | Bias of bool
    | Round of Rounding
    | Size of int
    | Alpha of float
    | Beta of float
    | K of float

let kernel n = Kernel n
let stride n = Stride n
let pad n = Pad n
let groups n = Groups n
let noBias = Bias false
let ceil = Round Ceil
let floor = Round Floor
let size n = Size n
let alpha a = Alpha a
let beta b = Beta b
let k v = K v

let private reject layer (o: Opt) = invalidArg "options" (sprintf "%s has no option %A" layer o)

let conv filters (opts: Opt list) =
    opts
    |> List.fold (fun (c: ConvSpec) o ->
        match o with
        | Kernel n -> { c with Kernel = (n, n) }
        | Stride n -> { c with Stride = (n, n) }
        | Pad n -> { c with Pad = (n, n) }
        | Groups n -> { c with Groups = n }
        | Bias b -> { c with Bias = b }
        | Round r -> { c with Rounding = Some r }
        | o -> reject "conv" o) (Layer.convDefaults filters)
    |> Conv

let private pool kind name size (opts: Opt list) =
    opts
    |> List.fold (fun (p: PoolSpec) o ->
        match o with
        | Stride n -> { p with Stride = (n, n) }
        | Pad n -> { p with Pad = (n, n) }
        | Round r -> { p with Rounding = r }
        | o -> reject name o) (Layer.poolDefaults kind size)
    |> Pool

let maxpool size opts = pool MaxPool "maxpool" size opts
let avgpool size opts = pool AvgPool "avgpool" size opts

let lrn (opts: Opt list) =
    opts
    |> List.fold (fun (l: LrnSpec) o ->
        match o with
        | Size n -> { l with Size = n }
        | Alpha a -> { l with Alpha = a }
        | Beta b -> { l with Beta = b }
        | K v -> { l with K = v }
        | o -> reject "lrn" o) Layer.lrnDefaults
    |> Lrn

let dense units (opts: Opt list) =
    opts
    |> List.fold (fun (d: DenseSpec) o ->
        match o with
        | Bias b -> { d with Bias = b }
        | o -> reject "dense" o) { Units = units; Bias = true }
    |> Dense

let dropout rate = Dropout rate
let relu = Act Relu
let leakyRelu slope = Act(LeakyRelu slope)
let tanh = Act Tanh
let sigmoid = Act Sigmoid
let batchnorm = BatchNorm Layer.batchNormDefaults
let flatten = Flatten
let softmax = Softmax

let input c h w = Chw(c, h, w)

let network name (input: Shape) (layers: Layer list) = Network.create name input layers None
