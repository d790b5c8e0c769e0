/// The compiler's front door: model-file text to an inferred network, or located errors.
module Dsl.Compiler.Frontend

open System.IO
open Dsl.Core
open Dsl.Core.Syntax
open Dsl.Compiler.Diagnostics

let private inputShape (m: ModelFile) env =
    match m.Input with
    | None -> errorHint m.NamePos (sprintf "network %s has no input line" m.Name) "add e.g. `input 3 x 227 x 227` right after the network line"
    | Some (words, p) ->
        let dims =
            words |> List.map (fun w ->
                match Expand.eval env w.Expr with
                | Expand.I v when v >= 1 -> v
                | v -> errorHint w.Pos (sprintf "input sizes are whole numbers of at least 1, got %O" v) "write e.g. `input 3 x 227 x 227`")
        let shape =
            match dims with
            | [ c; h; w ] -> Chw(c, h, w)
            | [ n ] -> Flat n
            | _ -> errorHint p (sprintf "input has %d dimensions" dims.Length) "write `input C x H x W` for images or `input N` for vectors"
        if (Shapes.elements shape).IsNone then
            errorHint p (sprintf "the input %O has more than %d elements" shape Shapes.maxElements) "use a smaller input"
        shape

/// Builds the network a parsed file describes. `classes` overrides the data set's class count.
let elaborate (classes: int option) (m: ModelFile) : Network =
    let train = m.Train |> Option.map (fst >> TrainBlock.validate)
    let known = classes |> Option.orElse (train |> Option.bind (fun t -> t.Data) |> Option.bind (fun d -> TrainConfig.classesOf d.Source))
    let globals = known |> Option.map (fun c -> Map [ "classes", Expand.I c ]) |> Option.defaultValue Map.empty
    let input = inputShape m globals
    let layers = Expand.expand m.Lets globals m.Body
    if layers.IsEmpty then errorHint m.NamePos (sprintf "network %s has no layers" m.Name) "add layers after the input line, one per line"
    let nodes = Network.nameLayers layers
    m.Train |> Option.iter (fun (lines, _) -> TrainBlock.checkLayerNames lines (nodes |> List.map (fun n -> n.Name)))
    { Name = m.Name; Input = input; Nodes = nodes; Train = train }

/// Expands and infers a parsed model.
let compileParsed (classes: int option) (m: ModelFile) : Shapes.Inferred = m |> elaborate classes |> Shapes.infer

/// Parses, expands and infers a model given as text.
let compileText (file: string) (classes: int option) (source: string) : Shapes.Inferred =
    Parser.parse file source |> compileParsed classes

/// Reads and compiles a model file; a missing file is a located error too.
let compileFile (path: string) (classes: int option) : Shapes.Inferred * string =
    if Directory.Exists path then
        errorHint { File = path; Line = 0; Col = 0 } "this is a folder, not a model file" "give the .model file itself, e.g. Models/lenet.model"
    if not (File.Exists path) then
        errorHint { File = path; Line = 0; Col = 0 } "no such model file" "check the path; the examples are in Models/"
    let source = File.ReadAllText path
    compileText path classes source, source

/// Renders errors raised while compiling `source`.
let renderErrors (source: string) (errors: ModelError list) =
    errors |> List.map (render source) |> String.concat "\n"
