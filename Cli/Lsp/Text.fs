/// A document's text as the editor sees it: lines and UTF-16 characters counted from 0 (the protocol's
/// default encoding, and .NET's), line breaks as the compiler counts them (\r\n, \n or a lone \r).
module Dsl.Cli.Lsp.Text

open System
open Dsl.Core

type Position = { Line: int; Character: int }

/// Offset of each line's first character.
let lineStarts (text: string) =
    let starts = Collections.Generic.List<int>([ 0 ])
    let mutable i = 0
    while i < text.Length do
        match text[i] with
        | '\r' when i + 1 < text.Length && text[i + 1] = '\n' -> starts.Add(i + 2); i <- i + 2
        | '\r' | '\n' -> starts.Add(i + 1); i <- i + 1
        | _ -> i <- i + 1
    starts.ToArray()

/// The offset of a position, clamped into the text and to the end of its line (as the protocol asks).
let offsetOf (text: string) (p: Position) =
    let starts = lineStarts text
    if p.Line < 0 then 0
    elif p.Line >= starts.Length then text.Length
    else
        let lineEnd =
            if p.Line + 1 < starts.Length then
                let next = starts[p.Line + 1]
                if next >= 2 && text[next - 2] = '\r' && text[next - 1] = '\n' then next - 2 else next - 1
            else text.Length
        starts[p.Line] + max 0 (min p.Character (lineEnd - starts[p.Line]))

/// The lines without their line breaks.
let lines (text: string) = text.Replace("\r\n", "\n").Split([| '\n'; '\r' |])

/// One line's text without its line break; "" past the end.
let line (text: string) (n: int) =
    let all = lines text
    if n < 0 || n >= all.Length then "" else all[n]

/// Replaces the text between two positions (a `didChange` with a range).
let replace (text: string) (start: Position) (stop: Position) (inserted: string) =
    let a = offsetOf text start
    let b = max a (offsetOf text stop)
    text.Substring(0, a) + inserted + text.Substring(b)

/// Characters of a word in the model language: names such as `leaky-relu`, numbers such as `1e-4`.
let isWordChar (c: char) = Char.IsLetterOrDigit c || c = '_' || c = '-' || c = '.'

/// The word around a character of a line: its first character and its text ("" when none).
let wordAt (lineText: string) (character: int) =
    let c = max 0 (min character lineText.Length)
    let mutable a = c
    while a > 0 && isWordChar lineText[a - 1] do a <- a - 1
    let mutable b = c
    while b < lineText.Length && isWordChar lineText[b] do b <- b + 1
    a, lineText.Substring(a, b - a)

/// The protocol position of a compiler position (lines and columns from 1; unknown ones go to the top).
let ofPos (p: Pos) = if p.IsKnown then { Line = p.Line - 1; Character = max 0 (p.Col - 1) } else { Line = 0; Character = 0 }

/// The range a compiler position names: the word that starts there, or one character where there is no word.
let rangeAt (text: string) (p: Pos) =
    let start = ofPos p
    let lineText = line text start.Line
    let mutable stop = start.Character
    while stop < lineText.Length && isWordChar lineText[stop] do stop <- stop + 1
    if stop = start.Character && stop < lineText.Length then stop <- stop + 1
    start, { start with Character = stop }
