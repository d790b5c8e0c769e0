/// Located errors: raising them, suggesting fixes, and rendering them as `file:line:col: message` with a caret.
module Dsl.Compiler.Diagnostics

open System
open Dsl.Core

/// A message quotes the file's words; a generated file's word can be megabytes long: each word past 200 characters
/// is cut to its first 100 and its length.
let clipWords (message: string) =
    message.Split(' ')
    |> Array.map (fun w -> if w.Length > 200 then sprintf "%s… (%d characters)" (w.Substring(0, 100)) w.Length else w)
    |> String.concat " "

let errorWith (pos: Pos) (message: string) (hint: string option) : 'a =
    raise (ModelFileError [ { Pos = pos; Message = clipWords message; Hint = Option.map clipWords hint } ])

let error pos message : 'a = errorWith pos message None
let errorHint pos message (hint: string) : 'a = errorWith pos message (Some hint)

let private editDistance (a: string) (b: string) =
    let d = Array2D.init (a.Length + 1) (b.Length + 1) (fun i j -> if i = 0 then j elif j = 0 then i else 0)
    for i in 1 .. a.Length do
        for j in 1 .. b.Length do
            let cost = if Char.ToLowerInvariant a[i - 1] = Char.ToLowerInvariant b[j - 1] then 0 else 1
            d[i, j] <- min (min (d[i - 1, j] + 1) (d[i, j - 1] + 1)) (d[i - 1, j - 1] + cost)
    d[a.Length, b.Length]

/// The closest candidate, if it is close enough to be what was meant.
let closest (candidates: string seq) (word: string) =
    candidates
    |> Seq.map (fun c -> c, editDistance word c)
    |> Seq.filter (fun (c, d) -> d <= max 1 (min c.Length word.Length / 3))
    |> Seq.sortBy snd
    |> Seq.tryHead
    |> Option.map fst

/// "did you mean `kernel`?" or a list of what is allowed.
let suggestion (candidates: string list) (word: string) =
    match closest candidates word with
    | Some c -> sprintf "did you mean `%s`?" c
    | None -> sprintf "expected one of: %s" (String.Join(", ", candidates))

/// At most `width` characters of `line` around column `col` (1-based), with … where it is cut, and the column's place
/// in what is shown: a minified or generated file's 60 MB line must not be echoed whole.
let excerpt (width: int) (line: string) (col: int) =
    if line.Length <= width then line, col
    else
        let start = max 0 (min (col - 1 - width / 2) (line.Length - width))
        let stop = min line.Length (start + width)
        let before = if start > 0 then "…" else ""
        before + line.Substring(start, stop - start) + (if stop < line.Length then "…" else ""), col - start + before.Length

/// Renders an error as a compiler would: location, message, the line, a caret under the column, a hint.
let render (source: string) (e: ModelError) =
    // Line breaks as the parser counts them: \r\n, \n or a lone \r.
    let lines = source.Replace("\r\n", "\n").Replace('\r', '\n').Split('\n')
    let sb = Text.StringBuilder()
    sb.AppendFormat("{0}: error: {1}", e.Pos, e.Message) |> ignore
    if e.Pos.Line >= 1 && e.Pos.Line <= lines.Length then
        let line, col = excerpt 120 lines[e.Pos.Line - 1] e.Pos.Col
        let gutter = sprintf "%4d | " e.Pos.Line
        // Keep tabs under tabs so the caret lines up in any terminal.
        let lead = line.Substring(0, max 0 (min line.Length (col - 1))) |> String.map (fun c -> if c = '\t' then '\t' else ' ')
        sb.AppendLine().Append(gutter).Append(line).AppendLine()
          .Append(String(' ', gutter.Length - 2)).Append("| ").Append(lead).Append('^') |> ignore
    e.Hint |> Option.iter (fun h -> sb.AppendLine().Append("  hint: ").Append(h) |> ignore)
    sb.ToString()
