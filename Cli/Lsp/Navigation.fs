/// Go to definition (a `let` use to its definition, a parameter use to the parameter) and the outline
/// (lets, the network's layers, the train block's keys).
module Dsl.Cli.Lsp.Navigation

open Dsl.Core
open Dsl.Core.Syntax
open Dsl.Compiler
open Dsl.Cli
open Dsl.Cli.Lsp.Text
open Dsl.Cli.Lsp.Analysis

let private at (p: Position) (start: int) (name: string) (pos: Pos) =
    pos.Line = p.Line + 1 && pos.Col = start + 1 && name.Length > 0

/// The names an argument expression refers to.
let rec private refs (e: Expr) =
    match e with
    | Ref (n, p) -> [ n, p ]
    | Bin (_, a, b, _) -> refs a @ refs b
    | Num _ -> []

let rec private wordsIn (s: Stmt) =
    match s with
    | Call (_, ws, _) -> ws
    | Pipe (ss, _) | Seq (ss, _) -> List.collect wordsIn ss
    | Group (s, _) -> wordsIn s
    | Repeat (n, s, _) -> n :: wordsIn s

/// The range of `let NAME`'s name.
let private letNameRange (text: string) (l: LetDef) =
    let start = ofPos l.Pos
    let lineText = line text start.Line
    let i = lineText.IndexOf(l.Name, min lineText.Length (start.Character + 3))
    let c = if i < 0 then start.Character else i
    { start with Character = c }, { start with Character = c + l.Name.Length }

let definition (a: Analysis) (p: Position) : (Position * Position) option =
    match a.Parsed with
    | Error _ -> None
    | Ok m ->
        let start, word = wordAt (line a.Text p.Line) p.Character
        let stmts = m.Body @ (m.Lets |> List.map (fun l -> l.Body))
        let call = stmts |> List.collect Expand.callsIn |> List.tryFind (fun (n, pos) -> n = word && at p start n pos)
        match call |> Option.bind (fun (n, _) -> m.Lets |> List.tryFind (fun l -> l.Name = n)) with
        | Some l -> Some(letNameRange a.Text l)
        | None ->
            // A parameter used in its let's body.
            m.Lets |> List.tryPick (fun l ->
                wordsIn l.Body |> List.collect (fun w -> refs w.Expr)
                |> List.tryFind (fun (n, pos) -> n = word && at p start n pos)
                |> Option.bind (fun (n, _) -> l.Params |> List.tryFind (fst >> (=) n))
                |> Option.map (fun (_, pos) -> rangeAt a.Text pos))

/// The protocol's SymbolKind values used here.
type Kind =
    | Module = 2
    | Class = 5
    | Property = 7
    | Field = 8
    | Function = 12

type Symbol =
    { Name: string
      Detail: string
      Kind: Kind
      Range: Position * Position
      Selection: Position * Position
      Children: Symbol list }

let private leaf name detail kind range = { Name = name; Detail = detail; Kind = kind; Range = range; Selection = range; Children = [] }

/// From the first range's start to the last's end: a parent's range encloses its children's.
let private spanning (first: Position * Position) (rest: (Position * Position) list) =
    fst first, (first :: rest |> List.map snd |> List.maxBy (fun e -> e.Line, e.Character))

let symbols (a: Analysis) : Symbol list =
    match a.Parsed with
    | Error _ -> []
    | Ok m ->
        let lets =
            [ for l in m.Lets ->
                let nameRange = letNameRange a.Text l
                { leaf l.Name (Printer.letDef l) Kind.Function nameRange with Range = (ofPos l.Pos, snd nameRange) } ]
        let layers =
            match a.Inferred with
            | Ok inf -> [ for l in inf.Layers -> leaf l.Node.Name (sprintf "%s -> %O" (Report.kind l.Node.Layer) l.Output) Kind.Field (rangeAt a.Text l.Node.Pos) ]
            | Error _ -> [ for n, pos in List.collect Expand.callsIn m.Body -> leaf n "" Kind.Field (rangeAt a.Text pos) ]
        let name = rangeAt a.Text m.NamePos
        let network = { leaf m.Name "network" Kind.Class name with Range = spanning name (layers |> List.map (fun l -> l.Range)); Children = layers }
        let train =
            match m.Train with
            | Some (entries, pos) ->
                let keys = [ for e in entries -> leaf e.Key (Printer.trainEntry e) Kind.Property (rangeAt a.Text e.Pos) ]
                let head = rangeAt a.Text pos
                [ { leaf "train" "" Kind.Module head with Range = spanning head (keys |> List.map (fun k -> k.Range)); Children = keys } ]
            | None -> []
        lets @ [ network ] @ train
