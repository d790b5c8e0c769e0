/// `dsl doctor RUN_DIR`, and the diagnosis `dsl run` prints at its end: what the run's curves and statistics say, with
/// the evidence and one change to the model file per finding; report.html is (re)written alongside.
module Dsl.Cli.Doctor

open System.IO
open Argu
open Dsl.Runtime
open Dsl.Runtime.Diagnosis

type DoctorArgs =
    | [<MainCommand; Mandatory>] Run_Dir of path: string
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Run_Dir _ -> "a run folder written by `dsl run` (older ones too: it says what it cannot judge)"

/// Prints the diagnosis of the run in `dir`.
let print (dir: string) =
    for line in Doctor.Diagnose(RunHistory.Load dir).Lines() do printfn "%s" line

/// Prints the diagnosis and (re)writes report.html: for a run that stopped before the trainer wrote it, or an old folder.
let printAndReport (dir: string) =
    print dir
    printfn "report: %s" (Output.RunReport.Write dir)

let run (a: ParseResults<DoctorArgs>) =
    let dir = a.GetResult Run_Dir
    if not (Directory.Exists dir) then raise (DataException(sprintf "%s: no such folder; give a run folder written by `dsl run` (runs/NAME-TIME)" dir))
    printAndReport dir
    0
