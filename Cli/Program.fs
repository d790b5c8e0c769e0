module Dsl.Cli.Program

open System
open Argu
open Dsl.Core
open Dsl.Compiler

type ModelArgs =
    | [<MainCommand; Mandatory>] File of path: string
    | Classes of int
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | File _ -> "the model file"
            | Classes _ -> "number of classes, where the data set does not say"

type RunArgs =
    | [<MainCommand; Mandatory>] File of path: string
    | Classes of int
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | File _ -> "the model file"
            | Classes _ -> "number of classes, where the data set does not say"

type Command =
    | [<CliPrefix(CliPrefix.None)>] Check of ParseResults<ModelArgs>
    | [<CliPrefix(CliPrefix.None)>] Summary of ParseResults<ModelArgs>
    | [<CliPrefix(CliPrefix.None)>] Run of ParseResults<RunArgs>
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Check _ -> "parse a model file, infer its shapes and say ok or what is wrong"
            | Summary _ -> "print a model's layers with output shapes, parameters and multiply-adds"
            | Run _ -> "train a model as its train block says"

/// Exit codes: 0 success, 1 other failure, 2 a bad model file or bad usage.
let private compile path classes =
    let inf, _ = Frontend.compileFile path classes
    inf

let private run (cmd: Command) =
    match cmd with
    | Check a ->
        printfn "%s" (Report.checkLine (compile (a.GetResult ModelArgs.File) (a.TryGetResult ModelArgs.Classes)))
        0
    | Summary a ->
        Report.printSummary (compile (a.GetResult ModelArgs.File) (a.TryGetResult ModelArgs.Classes))
        0
    | Run a ->
        Report.printSummary (compile (a.GetResult RunArgs.File) (a.TryGetResult RunArgs.Classes))
        eprintfn "dsl run: training arrives in a later version; the model above checks out."
        1

[<EntryPoint>]
let main argv =
    if Console.IsOutputRedirected then
        // Logs and pipes get plain text, wide enough that tables never wrap.
        Spectre.Console.AnsiConsole.Profile.Width <- 160
        Spectre.Console.AnsiConsole.Profile.Capabilities.Ansi <- false
    let parser = ArgumentParser.Create<Command>(programName = "dsl", errorHandler = ProcessExiter(colorizer = fun c -> if c = ErrorCode.HelpText then None else Some ConsoleColor.Red))
    let results = parser.ParseCommandLine(argv, raiseOnUsage = true)
    match results.GetAllResults() with
    | [] ->
        printfn "%s" (parser.PrintUsage())
        2
    | cmd :: _ ->
        try
            run cmd
        with
        | ModelFileError errors ->
            let source = errors |> List.tryHead |> Option.map (fun e -> e.Pos.File) |> Option.filter IO.File.Exists |> Option.map IO.File.ReadAllText |> Option.defaultValue ""
            eprintfn "%s" (Frontend.renderErrors source errors)
            2
