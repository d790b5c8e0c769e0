namespace Dsl.Core

/// A tensor shape of one example (the batch dimension is not part of it).
type Shape =
    | Chw of c: int * h: int * w: int
    | Flat of int
    member s.Elements = match s with Chw (c, h, w) -> c * h * w | Flat n -> n
    override s.ToString() = match s with Chw (c, h, w) -> $"{c}x{h}x{w}" | Flat n -> string n

/// A layer in an expanded network, with the name it is known by (conv1, pool2...) and where it was written.
type Node = { Layer: Layer; Name: string; Pos: Pos }

/// An expanded network: the single value that a model file, the F# combinators and the C# builder all produce.
type Network =
    { Name: string
      Input: Shape
      Nodes: Node list
      Train: TrainConfig option }

module Network =
    /// Names layers as Keras and Caffe users expect: conv1, conv2, pool1, dense1...
    let nameLayers (layers: (Layer * Pos) list) : Node list =
        let stem l = match l with Pool _ -> "pool" | Act a -> Layer.keyword (Act a) | l -> Layer.keyword l
        layers
        |> List.mapFold (fun (counts: Map<string, int>) (l, p) ->
            let s = stem l
            let n = (counts |> Map.tryFind s |> Option.defaultValue 0) + 1
            { Layer = l; Name = s + string n; Pos = p }, counts |> Map.add s n) Map.empty
        |> fst

    let create name input layers train =
        { Name = name; Input = input; Nodes = layers |> List.map (fun l -> l, Pos.None) |> nameLayers; Train = train }
