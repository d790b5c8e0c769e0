/// The located syntax tree back to model-file text: `Parser.parse (print m)` equals `m` (positions
/// always compare equal). Comments and the original layout are not kept; the output is laid out
/// canonically: lets first, two-space indentation, one statement per line.
module Dsl.Compiler.Printer

open System
open System.Globalization
open Dsl.Core.Syntax

/// A number so that it parses back to the same value and the same kind: a whole-number literal
/// prints without a fraction or exponent, any other with one (`2.0`, `0.0001`, `1e+21`).
let number (v: float) (isInt: bool) =
    if Double.IsNaN v then "nan" // no literal denotes NaN; it cannot come from parsing
    elif Double.IsInfinity v then (if v > 0.0 then "1e999" else "-1e999") // parses back to infinity
    elif isInt && v = Math.Floor v then Numerics.BigInteger(v).ToString(CultureInfo.InvariantCulture)
    else
        let s = v.ToString("R", CultureInfo.InvariantCulture).Replace("E", "e")
        if s.Contains '.' || s.Contains 'e' then s else s + ".0"

/// Operands that are themselves operations are parenthesised, so precedence and grouping survive
/// (parentheses inside an expression leave no trace in the tree).
let rec expr (e: Expr) =
    match e with
    | Num (v, isInt, _) -> number v isInt
    | Ref (n, _) -> n
    | Bin (op, a, b, _) -> sprintf "%s %c %s" (operand a) op (operand b)

and private operand e =
    match e with
    | Bin _ -> "(" + expr e + ")"
    | _ -> expr e

let word (w: Word) =
    match w with
    | Atom (Bin _ as e) -> "(" + expr e + ")" // not produced by the parser; this is as close as text gets
    | Atom e -> expr e
    | Paren e -> "(" + expr e + ")"

let rec stmt (s: Stmt) =
    match s with
    | Call (n, [], _) -> n
    | Call (n, ws, _) -> n + " " + (ws |> List.map word |> String.concat " ")
    | Pipe (ss, _) -> ss |> List.map primary |> String.concat " |> "
    | Seq (ss, _) -> ss |> List.map piped |> String.concat " then "
    | Group (s, _) -> "(" + stmt s + ")"
    | Repeat (n, s, _) -> sprintf "repeat %s %s" (word n) (primary s)

/// Where the grammar wants one layer, a group or a repeat (a pipe's items, a repeat's body):
/// a pipe or a sequence is parenthesised.
and private primary s =
    match s with
    | Pipe _ | Seq _ -> "(" + stmt s + ")"
    | _ -> stmt s

/// A sequence's items: a pipe binds tighter than `then`; a nested sequence needs parentheses.
and private piped s =
    match s with
    | Seq _ -> "(" + stmt s + ")"
    | _ -> stmt s

let letDef (l: LetDef) =
    let ps = l.Params |> List.map (fun (n, _) -> " " + n) |> String.concat ""
    sprintf "let %s%s = %s" l.Name ps (stmt l.Body)

let trainToken (t: TrainToken) =
    match t with
    | TWord (w, _) -> w
    | TNum (v, isInt, _) -> number v isInt
    | TStr (s, _) -> "\"" + s + "\""
    | TComma _ -> ","

let trainEntry (e: TrainEntry) =
    let sb = Text.StringBuilder(e.Key)
    for t in e.Tokens do
        match t with
        | TComma _ -> sb.Append(',') |> ignore
        | t -> sb.Append(' ').Append(trainToken t) |> ignore
    sb.ToString()

/// The whole file, ending in a line break.
let print (m: ModelFile) =
    let lines =
        [ for l in m.Lets do letDef l
          if not m.Lets.IsEmpty then ""
          "network " + m.Name
          match m.Input with
          | Some (ws, _) -> "  input " + (ws |> List.map word |> String.concat " x ")
          | None -> ()
          for s in m.Body do "  " + stmt s
          match m.Train with
          | Some (entries, _) ->
              ""
              "train"
              for e in entries do "  " + trainEntry e
          | None -> () ]
    String.concat "\n" lines + "\n"
