/// Runs the `dsl` program as a user would: a separate process, its exit code, what it printed.
module Dsl.Cli.Tests.RunDsl

open System.Diagnostics
open System.IO

let repoRoot =
    let rec up (d: DirectoryInfo) = if File.Exists(Path.Combine(d.FullName, "Dsl.sln")) then d.FullName else up d.Parent
    up (DirectoryInfo System.AppContext.BaseDirectory)

let private cache = Directory.CreateTempSubdirectory("dsl-cli-cache-").FullName

type Result = { Code: int; Out: string; Err: string }

/// How to start `dsl args`, through `launcher` when it is not empty (["mpirun"; "-np"; "2"]: the launcher starts dotnet).
let startInfo (launcher: string list) (args: string list) =
    let program, before = match launcher with p :: rest -> p, rest @ [ "dotnet" ] | [] -> "dotnet", []
    let psi = ProcessStartInfo(program, WorkingDirectory = repoRoot, RedirectStandardOutput = true, RedirectStandardError = true)
    before |> List.iter psi.ArgumentList.Add
    psi.ArgumentList.Add(Path.Combine(System.AppContext.BaseDirectory, "dsl.dll"))
    // Data from the shipped subset, a private cache, and no publisher reachable: nothing from the system or the network.
    psi.Environment["DSL_DATA"] <- Path.Combine(repoRoot, "tests", "data")
    psi.Environment["XDG_CACHE_HOME"] <- cache
    psi.Environment["DSL_DATA_MIRROR"] <- "http://127.0.0.1:9/"
    args |> List.iter psi.ArgumentList.Add
    psi

/// Waits for a started `dsl` and collects its exit code and output.
let finish (p: Process) =
    let out = p.StandardOutput.ReadToEndAsync()
    let err = p.StandardError.ReadToEndAsync()
    p.WaitForExit()
    { Code = p.ExitCode; Out = out.Result; Err = err.Result }

let dsl (args: string list) =
    use p = Process.Start(startInfo [] args)
    finish p

let model name = Path.Combine("Models", name)

/// Writes a model file to a temporary folder and returns its path.
let tempModel (text: string) =
    let path = Path.Combine(Directory.CreateTempSubdirectory("dsl-cli-").FullName, "test.model")
    File.WriteAllText(path, text)
    path
