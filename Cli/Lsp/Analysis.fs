/// One open document compiled as `dsl check` compiles a file: the same parser, expander and shape inference,
/// kept with the text so that hover, completion and navigation read from it without compiling again.
module Dsl.Cli.Lsp.Analysis

open System
open Dsl.Core
open Dsl.Core.Syntax
open Dsl.Compiler

type Analysis =
    { Text: string
      /// The parsed file, or the syntax error.
      Parsed: Result<ModelFile, ModelError list>
      /// The inferred network, or the first error of parsing, expansion or inference (what `dsl check` says).
      Inferred: Result<Shapes.Inferred, ModelError list>
      /// Where the file parses but has an error in the network or train block, the layers before that error,
      /// so that hover still shows their shapes while a later line is being written.
      Before: Shapes.Inferred option }

/// The name positions carry: the file's path for `file:` URIs, as `dsl check` would name it.
let fileName (uri: string) =
    match Uri.TryCreate(uri, UriKind.Absolute) with
    | true, u when u.IsFile -> u.LocalPath
    | _ -> uri

/// A failure that is not the model file's fault still becomes a diagnostic, so that the editor shows it
/// and the server goes on.
let private attempt (f: unit -> 'a) =
    try Ok(f ())
    with
    | ModelFileError errors -> Error errors
    | e -> Error [ { Pos = Pos.None; Message = sprintf "internal error in the compiler: %s" e.Message; Hint = Some "please report it with this file" } ]

/// The file without the line in error: in the network, that line and all after it (their shapes hang on it);
/// in the train block, that entry alone (the others may say how many classes there are).
let private withoutError (m: ModelFile) (e: ModelError) =
    match m.Train with
    | Some (entries, p) when e.Pos.Line >= p.Line -> Some { m with Train = Some(entries |> List.filter (fun t -> t.Pos.Line <> e.Pos.Line), p) }
    | _ when m.Body |> List.exists (fun s -> s.Pos.Line >= e.Pos.Line) && e.Pos.Line > m.NamePos.Line ->
        Some { m with Body = m.Body |> List.filter (fun s -> s.Pos.Line < e.Pos.Line) }
    | _ -> None

let analyse (uri: string) (text: string) : Analysis =
    let parsed = attempt (fun () -> Parser.parse (fileName uri) text)
    let inferred = parsed |> Result.bind (fun m -> attempt (fun () -> Frontend.compileParsed None m))
    let before =
        match parsed, inferred with
        | Ok m, Error (e :: _) ->
            withoutError m e |> Option.bind (fun shorter -> attempt (fun () -> Frontend.compileParsed None shorter) |> Result.toOption)
        | _ -> None
    { Text = text; Parsed = parsed; Inferred = inferred; Before = before }

let errors (a: Analysis) = match a.Inferred with Ok _ -> [] | Error es -> es
