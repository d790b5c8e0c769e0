/// `dsl run --ranks N`: starts Open MPI's mpirun on this machine with N processes of `dsl run`, as a user would type
/// `mpirun -np N dsl run ...`, and waits for it.
module Dsl.Cli.Ranks

open System
open System.Diagnostics
open System.IO
open System.Runtime.InteropServices

/// mpirun on PATH, if Open MPI is installed.
let private mpirun () =
    (Environment.GetEnvironmentVariable "PATH" |> Option.ofObj |> Option.defaultValue "").Split(':', StringSplitOptions.RemoveEmptyEntries)
    |> Array.map (fun d -> Path.Combine(d, "mpirun"))
    |> Array.tryFind File.Exists

/// How this program was started: the apphost alone, or dotnet and the dll.
let private self () =
    match Environment.ProcessPath with
    | null -> [ "dotnet"; Reflection.Assembly.GetEntryAssembly().Location ]
    | path when Path.GetFileNameWithoutExtension path = "dotnet" -> [ path; Reflection.Assembly.GetEntryAssembly().Location ]
    | path -> [ path ]

/// Threads per process: the cores shared out, at least one each.
let private threadsFor cores ranks = max 1 (cores / ranks)

/// mpirun's command line for `ranks` processes of `dsl run runArgs`. As root Open MPI refuses to start without
/// --allow-run-as-root; with more processes than cores, without --oversubscribe. Binding is left to the kernel
/// (--bind-to none): Open MPI binds each of 2 processes to one core by default, where a process runs several threads.
let commandLine (mpirun: string) (ranks: int) (isRoot: bool) (cores: int) (runArgs: string list) =
    [ mpirun
      if isRoot then "--allow-run-as-root"
      if ranks > cores then "--oversubscribe"
      "--bind-to"; "none"
      "-np"; string ranks
      yield! self ()
      "run"
      yield! runArgs
      if not (List.contains "--threads" runArgs) then
          "--threads"; string (threadsFor cores ranks) ]

[<DllImport("libc")>]
extern uint private geteuid()

[<DllImport("libc")>]
extern int private kill(int pid, int signal)

/// Runs `dsl run runArgs` on `ranks` processes through mpirun and returns mpirun's exit code. This process only waits:
/// Ctrl-C reaches mpirun from the terminal, and a SIGTERM sent to this process alone is passed on to it.
let run (ranks: int) (runArgs: string list) =
    if not (isNull (Environment.GetEnvironmentVariable "OMPI_COMM_WORLD_SIZE")) then
        raise (UsageError "--ranks starts mpirun itself; under mpirun, leave it out (mpirun -np N dsl run MODEL)")
    let path =
        mpirun ()
        |> Option.defaultWith (fun () ->
            raise (Dsl.Runtime.Distributed.DistributedException(
                sprintf "--ranks %d starts Open MPI's mpirun, which is not installed (not on PATH); install it with `sudo apt-get install openmpi-bin libopenmpi3`, or leave --ranks out to train in one process" ranks)))
    let line = commandLine path ranks (geteuid () = 0u) Environment.ProcessorCount runArgs
    printfn "starting %d processes: %s" ranks (String.Join(" ", line))
    let psi = ProcessStartInfo(List.head line)
    List.tail line |> List.iter psi.ArgumentList.Add
    use p = Process.Start psi
    use _int = PosixSignalRegistration.Create(PosixSignal.SIGINT, fun c -> c.Cancel <- true)
    use _term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, fun c -> c.Cancel <- true; kill (p.Id, 15) |> ignore)
    p.WaitForExit()
    p.ExitCode
