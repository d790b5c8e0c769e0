/// Checks a command line against the argument unions before Argu reads it. Argu takes an unknown option before the
/// file for nothing and one after it for the file, and lets a second file win over the first: a typo would start the
/// wrong job. Here an unknown command or option, or a surplus argument, is a usage error naming it, with "did you
/// mean" where a name is close.
module Dsl.Cli.CommandLine

open System
open Microsoft.FSharp.Reflection
open Argu
open Dsl.Compiler

/// What a union (the commands, or one command's arguments) accepts: its options (and whether each takes a value),
/// its sub-commands, and how many plain arguments.
type private Shape =
    { Options: Map<string, bool>
      Commands: Map<string, Shape>
      /// None: no plain argument; Some (name, false): exactly one; Some (name, true): any number.
      Main: (string * bool) option }

let private isMain (c: UnionCaseInfo) = c.GetCustomAttributes(typeof<MainCommandAttribute>).Length > 0

/// A case written without a prefix (`[<CliPrefix(CliPrefix.None)>]`) is a command: `run`, `data list`.
let private isCommand (c: UnionCaseInfo) =
    c.GetCustomAttributes(typeof<CliPrefixAttribute>) |> Array.exists (fun a -> (a :?> CliPrefixAttribute).Prefix = CliPrefix.None)

/// Argu's spelling of a case: its name in lower case, `_` as `-`, after `--` for an option.
let private spelling (c: UnionCaseInfo) = c.Name.ToLowerInvariant().Replace('_', '-')

let private isParseResults (t: Type) = t.IsGenericType && t.GetGenericTypeDefinition() = typedefof<ParseResults<_>>

let rec private shapeOf (union: Type) : Shape =
    let cases = FSharpType.GetUnionCases union
    let fields (c: UnionCaseInfo) = c.GetFields()
    { Options =
        cases |> Array.filter (fun c -> not (isMain c) && not (isCommand c))
        |> Array.map (fun c -> "--" + spelling c, (fields c).Length > 0) |> Map.ofArray
      Commands =
        cases |> Array.filter isCommand
        |> Array.map (fun c ->
            spelling c,
            match fields c with
            | [| f |] when isParseResults f.PropertyType -> shapeOf (f.PropertyType.GetGenericArguments()[0])
            | _ -> { Options = Map.empty; Commands = Map.empty; Main = None })
        |> Map.ofArray
      Main =
        cases |> Array.tryFind isMain
        |> Option.map (fun c ->
            let t = (Array.head (fields c)).PropertyType
            c.Name.ToLowerInvariant().Replace('_', ' '), t.IsGenericType && t.GetGenericTypeDefinition() = typedefof<list<_>>) }

let private helpFlags = set [ "--help"; "-h"; "-?"; "/h"; "/?"; "/help"; "help" ]

let private looksLikeOption (t: string) = t.Length > 1 && t[0] = '-' && not (Char.IsDigit t[1]) && t[1] <> '.'

let private didYouMean candidates word =
    Diagnostics.closest candidates word |> Option.map (sprintf "; did you mean `%s`?") |> Option.defaultValue ""

/// Why this command line is not one the unions describe (a message for the user), or None when Argu can take it.
/// `values` checks the value of an option wherever it appears (`--device nosuch` is a usage error, not a failure).
let problem (command: Type) (values: Map<string, string -> string option>) (argv: string[]) : string option =
    let rec check (name: string) (shape: Shape) (positional: string list) (args: string list) =
        match args with
        | t :: _ when helpFlags.Contains t -> None
        | t :: more when looksLikeOption t ->
            match shape.Options.TryFind t, more with
            | Some true, value :: rest ->
                match values.TryFind t |> Option.bind (fun c -> c value) with
                | Some wrong -> Some wrong
                | None -> check name shape positional rest
            | Some _, _ -> check name shape positional more
            | None, _ -> Some(sprintf "`%s` has no option `%s`%s (`%s --help` lists them)" name t (didYouMean shape.Options.Keys t) name)
        | t :: more when shape.Commands.ContainsKey t -> check (name + " " + t) shape.Commands[t] [] more
        | t :: _ when not shape.Commands.IsEmpty && shape.Main.IsNone ->
            Some(sprintf "unknown command `%s`%s (`%s --help` lists the commands)" t (didYouMean shape.Commands.Keys t) name)
        | t :: more -> check name shape (t :: positional) more
        | [] ->
            match List.rev positional, shape.Main with
            | [], _ -> None
            | first :: _, None -> Some(sprintf "`%s` takes no argument like `%s`" name first)
            | (_ :: _ :: _ as all), Some (what, false) -> Some(sprintf "`%s` takes one %s, got %d: %s" name what all.Length (String.Join(" ", all)))
            | _ -> None
    // An argument is echoed back; one can be 128 KiB long.
    check "dsl" (shapeOf command) [] (List.ofArray argv) |> Option.map Diagnostics.clipWords
