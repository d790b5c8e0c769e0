/// Completion at the cursor: layer names and `let` names where a statement begins, a layer's options after
/// it, train-block keys and, after a key, the values and options its validator accepts. Read from the text
/// before the cursor, because a line being typed rarely parses.
module Dsl.Cli.Lsp.Completion

open System
open System.Text.RegularExpressions
open Dsl.Compiler
open Dsl.Cli.Lsp.Text

/// The protocol's CompletionItemKind values used here.
type Kind =
    | Function = 3
    | Property = 10
    | Value = 12
    | Keyword = 14

type Item = { Label: string; Kind: Kind; Detail: string }

let private letLine = Regex(@"^\s*let\s+([A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z][A-Za-z0-9_]*)*)(.*?)=", RegexOptions.Compiled)

/// `let` definitions by name with their parameter list, found in the text even where it does not parse yet.
let private lets (text: string) =
    lines text
    |> Array.choose (fun l ->
        let m = letLine.Match l
        if m.Success then Some(m.Groups[1].Value, m.Groups[2].Value.Trim()) else None)
    |> List.ofArray

let private withoutComment (s: string) = match s.IndexOf "//" with -1 -> s | i -> s.Substring(0, i)

/// Whether a line lies in the train block: below a line that is only `train`.
let private inTrainBlock (text: string) (lineNo: int) =
    lines text |> Seq.truncate lineNo |> Seq.exists (fun l -> (withoutComment l).Trim() = "train")

/// The statement being written: what follows the last `|>`, `then`, `(` or `=` on the line.
let private currentStatement (before: string) =
    let cut = [ "|>"; "("; "=" ] |> List.map (fun s -> let i = before.LastIndexOf s in if i < 0 then -1 else i + s.Length)
    let thenAt = Regex.Matches(before, @"\bthen\b") |> Seq.map (fun m -> m.Index + m.Length) |> Seq.fold max -1
    let from = List.fold max thenAt cut
    (if from < 0 then before else before.Substring from).Split([| ' '; '\t' |], StringSplitOptions.RemoveEmptyEntries) |> List.ofArray

let private statementStarts (text: string) =
    [ for l in Expand.layerNames -> { Label = l; Kind = Kind.Keyword; Detail = "layer" } ]
    @ [ for n, ps in lets text -> { Label = n; Kind = Kind.Function; Detail = (sprintf "let %s %s" n ps).TrimEnd() } ]
    @ [ { Label = "repeat"; Kind = Kind.Keyword; Detail = "repeat N (...)" } ]

let complete (text: string) (p: Position) : Item list =
    let lineText = line text p.Line
    let upTo = lineText.Substring(0, max 0 (min p.Character lineText.Length))
    // The word being typed is the editor's to filter by; what comes before it decides the choices.
    let before = upTo.Substring(0, fst (wordAt upTo upTo.Length))
    if upTo.Contains "//" then []
    elif inTrainBlock text p.Line then
        if before.Trim() = "" then
            [ for k in TrainBlock.keys -> { Label = k; Kind = Kind.Property; Detail = TrainBlock.examples.TryFind k |> Option.defaultValue k } ]
        else
            match Parser.tryParseTrainEntry before with
            | Some e -> [ for w in TrainBlock.nextWords e -> { Label = w; Kind = Kind.Value; Detail = e.Key } ]
            | None -> []
    else
        match currentStatement before with
        | [] | [ "repeat"; _ ] -> statementStarts text
        | layer :: written ->
            match Expand.layerOptions layer with
            | Some options -> [ for o in options do if not (List.contains o written) then { Label = o; Kind = Kind.Property; Detail = layer + " option" } ]
            | None -> []
