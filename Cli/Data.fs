/// `dsl data list|get|path`, and the fetch a run makes when its data set is missing: a live bar (bytes, rate, ETA) on
/// a terminal, one line per file in a log.
module Dsl.Cli.Data

open System
open System.IO
open Argu
open Dsl.Runtime.Data
open Spectre.Console

type NameArgs =
    | [<MainCommand; Mandatory>] Name of name: string
    interface IArgParserTemplate with
        member _.Usage = "fashion-mnist, mnist, cifar10 or cifar100"

type DataArgs =
    | [<CliPrefix(CliPrefix.None)>] List
    | [<CliPrefix(CliPrefix.None)>] Get of ParseResults<NameArgs>
    | [<CliPrefix(CliPrefix.None)>] Path of ParseResults<NameArgs>
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | List -> "each known data set: where it was found, or that it is missing, and its size"
            | Get _ -> "fetch a data set into the cache (from its publisher, else the distribution's package)"
            | Path _ -> "print the folder that holds a data set (exit 1 when it is missing)"

let private named (name: string) =
    match KnownDataSets.Named name with
    | null -> raise (ArgumentException(sprintf "unknown data set %s; known: %s" name (String.Join(", ", KnownDataSets.All |> Seq.map (fun s -> s.Name)))))
    | set -> set

let private size (dir: string) =
    Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories) |> Seq.sumBy (fun f -> FileInfo(f).Length) |> Report.bytes

/// Puts `set` where the search finds it, showing the transfer; returns its folder.
let get (set: KnownDataSet) =
    let at = DataLocations.FromEnvironment()
    // A damaged copy in the cache is removed here (and said so), then fetched again like a missing one.
    match DataStore.Verified(set, at, (fun line -> eprintfn "%s" line)) with
    | null when Console.IsErrorRedirected || Console.IsOutputRedirected ->
        eprintfn "%s is not on this machine: fetching it into %s" set.Name at.Cache
        // In a log, a line per file every 10 s: a slow download shows that it moves, a stalled one is ended by its limits.
        let said = Collections.Generic.Dictionary<string, DateTime>()
        let report (p: DownloadProgress) =
            let last = match said.TryGetValue p.File with | true, t -> t | _ -> DateTime.MinValue
            if DateTime.UtcNow - last > TimeSpan.FromSeconds 10.0 && (p.Total |> Option.ofNullable) <> Some p.Received then
                said[p.File] <- DateTime.UtcNow
                let total = p.Total |> Option.ofNullable |> Option.map (fun t -> sprintf " of %.1f MB" (float t / 1e6)) |> Option.defaultValue ""
                eprintfn "%s: %.1f MB%s (%.1f MB/s)" p.File (float p.Received / 1e6) total (p.BytesPerSecond / 1e6)
        DataStore.Get(set, at, (fun line -> eprintfn "%s" line), Progress.Synchronous report)
    | null ->
        eprintfn "%s is not on this machine: fetching it into %s" set.Name at.Cache
        let mutable dir = null
        AnsiConsole.Progress()
            .AutoClear(false)
            .Columns([| TaskDescriptionColumn() :> ProgressColumn; ProgressBarColumn(); DownloadedColumn(); TransferSpeedColumn(); RemainingTimeColumn() |])
            .Start(fun ctx ->
                let tasks = Collections.Generic.Dictionary<string, ProgressTask>()
                let report (p: DownloadProgress) =
                    let task =
                        match tasks.TryGetValue p.File with
                        | true, t -> t
                        | _ ->
                            let t = ctx.AddTask(Markup.Escape p.File, true, float (Option.ofNullable p.Total |> Option.defaultValue 1L))
                            tasks[p.File] <- t
                            t
                    p.Total |> Option.ofNullable |> Option.iter (fun t -> task.MaxValue <- float t)
                    task.Value <- float p.Received
                dir <- DataStore.Get(set, at, (fun line -> AnsiConsole.MarkupLine(Markup.Escape line)), Progress.Synchronous report))
        dir
    | dir -> dir

/// Fetches the known data set a run names, when it is missing; image folders and synthetic data pass through.
let ensure (source: Dsl.Core.DataSource) =
    match DataSources.Known source with
    | null -> ()
    | set -> get set |> ignore

let run (args: ParseResults<DataArgs>) =
    match args.GetAllResults() with
    | [ Get a ] ->
        printfn "%s" (get (named (a.GetResult Name)))
        0
    | [ Path a ] ->
        let set = named (a.GetResult Name)
        match DataStore.Find(set, DataLocations.FromEnvironment()) with
        | null ->
            eprintfn "%s is not on this machine; `dsl data get %s` fetches it" set.Name set.Name
            1
        | dir ->
            printfn "%s" dir
            0
    | _ ->
        let at = DataLocations.FromEnvironment()
        let t = Table().Border(TableBorder.Simple)
        for h in [ "data set"; "where"; "size" ] do t.AddColumn(h) |> ignore
        for set in KnownDataSets.All do
            match DataStore.Find(set, at) with
            | null -> t.AddRow(set.Name, sprintf "missing (`dsl data get %s`)" set.Name |> Markup.Escape, "-") |> ignore
            | dir -> t.AddRow(set.Name, Markup.Escape dir, size dir) |> ignore
        AnsiConsole.Write t
        printfn "searched: %s" (String.Join(", ", at.Roots() |> Seq.map (fun struct (root, label) -> sprintf "%s (%s)" root label)))
        0
