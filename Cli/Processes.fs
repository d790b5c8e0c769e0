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

/// The device a process of a job opens. Each process on a machine takes a GPU of its own (NCCL refuses two processes on
/// one GPU): `cuda` is the CUDA device numbered as the process among those mpirun put on its machine, and `auto` is that
/// device where the machine has a CUDA device for each of them, else the CPU (OpenCL only when asked for).
let device (comm: Communicator) (name: string) =
    let env name = Environment.GetEnvironmentVariable name |> Option.ofObj |> Option.map int
    match comm.Size, env "OMPI_COMM_WORLD_LOCAL_RANK", env "OMPI_COMM_WORLD_LOCAL_SIZE" with
    | 1, _, _ -> name
    | _, Some local, Some localSize when name = "cuda" || name = "auto" ->
        let gpus, _ = Dsl.Runtime.Devices.Cuda()
        if name = "cuda" && local >= gpus.Count then
            raise (Dsl.Runtime.DeviceException(sprintf "%d processes share this machine (%s) but it has %d CUDA devices: each process needs a GPU of its own; run at most %d processes a machine (mpirun -np N -H host:%d,...)"
                                       localSize comm.Host gpus.Count gpus.Count gpus.Count))
        if gpus.Count >= localSize then sprintf "cuda:%d" local elif name = "auto" then "cpu" else name
    | _, _, _ when name = "auto" -> "cpu"
    | _ -> name

/// How the run header names where it trains: "2 processes x 1 threads on CPU (...)" or "2 processes on CUDA ..." in a job,
/// the device alone otherwise.
let describe (comm: Communicator) (deviceName: string) =
    if comm.Size = 1 then deviceName
    elif deviceName.StartsWith "CPU" then sprintf "%d processes x %d threads on %s" comm.Size Dsl.Runtime.Cpu.CpuThreads.Count deviceName
    else sprintf "%d processes on %s" comm.Size deviceName
