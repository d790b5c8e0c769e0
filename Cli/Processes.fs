/// `mpirun -np N dsl run`: joining the job, and what a process other than 0 keeps to itself.
module Dsl.Cli.Processes

open System
open System.IO
open System.Text
open Dsl.Runtime.Distributed

/// Starts every line with "process R of N: ", so a job's interleaved error output says who wrote what.
type private PrefixedWriter(inner: TextWriter, prefix: string) =
    inherit TextWriter()
    let mutable lineStart = true
    override _.Encoding = inner.Encoding
    override _.Write(c: char) =
        if lineStart && c <> '\n' then inner.Write prefix
        inner.Write c
        lineStart <- (c = '\n')
    override _.Flush() = inner.Flush()

/// The job this process belongs to (a world of one without mpirun). Processes other than 0 print nothing on stdout
/// (process 0 speaks for the job) and prefix their errors with their rank.
let join () : Communicator =
    let comm = Communicator.Join(fun name -> Environment.GetEnvironmentVariable name)
    if comm.Rank > 0 then
        Console.SetOut TextWriter.Null
        Spectre.Console.AnsiConsole.Console <-
            Spectre.Console.AnsiConsole.Create(Spectre.Console.AnsiConsoleSettings(Out = Spectre.Console.AnsiConsoleOutput(TextWriter.Null)))
    if comm.Size > 1 then
        let err = new PrefixedWriter(Console.Error, sprintf "%s: " (comm.Describe comm.Rank))
        Console.SetError(TextWriter.Synchronized err)
    comm

/// Threads per process: as asked, else the cores shared by the processes mpirun placed on this machine.
let threads (comm: Communicator) (asked: int option) =
    match asked, Environment.GetEnvironmentVariable "OMPI_COMM_WORLD_LOCAL_SIZE" with
    | Some t, _ -> Some t
    | None, local when comm.Size > 1 && not (isNull local) -> Some(max 1 (Environment.ProcessorCount / max 1 (int local)))
    | None, _ -> None

/// The device a process of a job opens: `auto` means the CPU there (the only device data-parallel training runs on yet).
let device (comm: Communicator) (name: string) = if comm.Size > 1 && name = "auto" then "cpu" else name

/// How the run header names where it trains: "2 processes x 1 threads on CPU (...)" in a job, the device alone otherwise.
let describe (comm: Communicator) (deviceName: string) =
    if comm.Size = 1 then deviceName
    else sprintf "%d processes x %d threads on %s" comm.Size Dsl.Runtime.Cpu.CpuThreads.Count deviceName
