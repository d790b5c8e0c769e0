/// Checks a command line against the verbs' argument unions before Argu reads it. Argu takes an unknown option
/// before the file for nothing and one after it for the file, and lets a second file win over the first: a typo
/// would start the wrong job. Here an unknown option or a surplus argument is a usage error naming it, with
/// "did you mean" where an option is close.
module Dsl.Cli.CommandLine

open System
open Microsoft.FSharp.Reflection
open Argu
open Dsl.Compiler

/// How a verb takes its arguments: its options (and whether each takes a value) and how many plain arguments.
type private Shape =
    { Options: Map<string, bool>
      /// None: no plain argument; Some false: exactly one; Some true: any number.
      Main: (string * bool) option }

/// Argu's spelling of a union case: `--` then the name in lower case, `_` as `-`.
let private optionName (case: UnionCaseInfo) = "--" + case.Name.ToLowerInvariant().Replace('_', '-')

let private shapeOf (args: Type) =
    let cases = FSharpType.GetUnionCases args
    let isMain (c: UnionCaseInfo) = c.GetCustomAttributes(typeof<MainCommandAttribute>).Length > 0
    { Options = cases |> Array.filter (isMain >> not) |> Array.map (fun c -> optionName c, c.GetFields().Length > 0) |> Map.ofArray
      Main =
        cases |> Array.tryFind isMain
        |> Option.map (fun c ->
            let field = c.GetFields()[0]
            c.Name.ToLowerInvariant().Replace('_', ' '), field.PropertyType.IsGenericType && field.PropertyType.GetGenericTypeDefinition() = typedefof<list<_>>) }

/// Each verb of the command union (`Run of ParseResults<RunArgs>` is `run`) and the shape of its arguments.
let private verbs (command: Type) =
    FSharpType.GetUnionCases command
    |> Array.map (fun c ->
        let shape =
            match c.GetFields() with
            | [| f |] when f.PropertyType.IsGenericType -> shapeOf (f.PropertyType.GetGenericArguments()[0])
            | _ -> { Options = Map.empty; Main = None }
        c.Name.ToLowerInvariant(), shape)
    |> Map.ofArray

let private helpFlags = set [ "--help"; "-h"; "-?"; "/h"; "/?"; "/help"; "help" ]

let private looksLikeOption (t: string) = t.Length > 1 && t[0] = '-' && not (Char.IsDigit t[1]) && t[1] <> '.'

/// Why this command line is not one of the verbs' (a message for the user), or None when Argu can take it.
/// `values` checks the value of an option wherever it appears (`--device nosuch` is a usage error, not a failure).
let problem (command: Type) (values: Map<string, string -> string option>) (argv: string[]) : string option =
    let verbs = verbs command
    match List.ofArray argv with
    | [] -> None
    | verb :: _ when helpFlags.Contains verb -> None
    | verb :: _ when not (verbs.ContainsKey verb) ->
        let hint = Diagnostics.closest verbs.Keys verb |> Option.map (sprintf "; did you mean `%s`?") |> Option.defaultValue ""
        Some(sprintf "unknown command `%s`%s; `dsl --help` lists the commands" verb hint)
    | verb :: rest ->
        let shape = verbs[verb]
        let rec scan (positional: string list) =
            function
            | [] -> Ok(List.rev positional)
            | t :: _ when helpFlags.Contains t -> Ok []
            | (t: string) :: more when looksLikeOption t ->
                match shape.Options.TryFind t with
                | Some true ->
                    match more, values.TryFind t with
                    | value :: _, Some check when (check value).IsSome -> Error((check value).Value)
                    | _ -> scan positional (if more.IsEmpty then [] else more.Tail)
                | Some false -> scan positional more
                | None ->
                    let hint = Diagnostics.closest shape.Options.Keys t |> Option.map (sprintf "; did you mean `%s`?") |> Option.defaultValue ""
                    Error(sprintf "`dsl %s` has no option `%s`%s (`dsl %s --help` lists them)" verb t hint verb)
            | t :: more -> scan (t :: positional) more
        match scan [] rest, shape.Main with
        | Error e, _ -> Some e
        | Ok [], _ -> None
        | Ok (first :: _), None -> Some(sprintf "`dsl %s` takes no argument like `%s`" verb first)
        | Ok (_ :: _ :: _ as all), Some (name, false) ->
            Some(sprintf "`dsl %s` takes one %s, got %d: %s" verb name all.Length (String.Join(" ", all)))
        | Ok _, Some _ -> None
