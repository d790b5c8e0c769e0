/// Hover: on a layer, its `dsl summary` row (output shape, parameters, multiply-adds); on a `let` use, its
/// expansion (the rows it stamps out where the network uses it, else its definition).
module Dsl.Cli.Lsp.Hover

open Dsl.Core.Syntax
open Dsl.Compiler
open Dsl.Cli
open Dsl.Cli.Lsp.Text
open Dsl.Cli.Lsp.Analysis

let private table (layers: Shapes.LayerInfo list) =
    let row cells = "| " + String.concat " | " cells + " |"
    [ row Report.summaryColumns
      row (Report.summaryColumns |> List.map (fun _ -> "---"))
      for l in layers do row (Report.summaryRow l |> List.map (fun c -> c.Replace("|", "\\|"))) ]
    |> String.concat "\n"

let private code (s: string) = "```model\n" + s + "\n```"

/// The layers written at one place on the line: a built-in layer, or every layer a `let` call there expands to.
/// The one under the cursor, else the line's first.
let private layersAt (inf: Shapes.Inferred) (p: Position) =
    let onLine = inf.Layers |> List.filter (fun l -> l.Node.Pos.Line = p.Line + 1)
    let sites = onLine |> List.map (fun l -> l.Node.Pos.Col) |> List.distinct
    match sites |> List.filter (fun c -> c - 1 <= p.Character) |> List.tryLast |> Option.orElse (List.tryHead sites) with
    | Some col -> onLine |> List.filter (fun l -> l.Node.Pos.Col = col)
    | None -> []

let private letNamed (m: ModelFile) name = m.Lets |> List.tryFind (fun l -> l.Name = name)

/// Markdown for the position, and the range it describes; None where there is nothing to say.
let hover (a: Analysis) (p: Position) : (string * (Position * Position)) option =
    let lineText = line a.Text p.Line
    let _, word = wordAt lineText p.Character
    let definition = match a.Parsed with Ok m -> letNamed m word | Error _ -> None
    let shapes, note =
        match a.Inferred, a.Before with
        | Ok inf, _ -> Some inf, ""
        | Error (e :: _), Some before -> Some before, sprintf "\n\n*The file has an error at line %d; these shapes are from the lines before it.*" e.Pos.Line
        | _ -> None, ""
    let fromNetwork =
        match shapes with
        | Some inf ->
            match layersAt inf p with
            | [] -> None
            | first :: _ as layers ->
                let site = first.Node.Pos
                let callee = snd (wordAt lineText (site.Col - 1))
                let header =
                    match a.Parsed |> Result.toOption |> Option.bind (fun m -> letNamed m callee) with
                    | Some d -> sprintf "`%s` expands to %d layer(s):\n\n%s\n\n" callee layers.Length (code (Printer.letDef d))
                    | None -> ""
                Some(header + table layers + note, rangeAt a.Text site)
        | None -> None
    match fromNetwork, definition with
    | Some h, _ -> Some h
    | None, Some d ->
        let start, _ = wordAt lineText p.Character
        Some(code (Printer.letDef d), ({ p with Character = start }, { p with Character = start + word.Length }))
    | None, None -> None
