/// A run killed with SIGKILL in the middle of an epoch resumes with --resume and ends with the same weights,
/// bit for bit, as a run that was never killed.
module Dsl.Cli.Tests.KillTests

open System.Diagnostics
open System.IO
open System.Threading
open Expecto
open Dsl.Cli.Tests.RunDsl

let private model =
    "network killable\n  input 3 x 32 x 32\n  conv 16 kernel 3 pad 1 |> relu\n  maxpool 2\n  conv 32 kernel 3 pad 1 |> relu\n  maxpool 2\n"
    + "  flatten\n  dense 64 |> relu |> dropout 0.3\n  dense classes\n  softmax\n"
    + "train\n  data synthetic 4\n  optimizer sgd lr 0.02 momentum 0.9\n  batch 16\n  epochs 6\n  seed 3\n"

let private start (args: string list) =
    let psi = ProcessStartInfo("dotnet", WorkingDirectory = repoRoot, RedirectStandardOutput = true, RedirectStandardError = true)
    psi.ArgumentList.Add(Path.Combine(System.AppContext.BaseDirectory, "dsl.dll"))
    args |> List.iter psi.ArgumentList.Add
    Process.Start psi

let ``a run killed mid-epoch resumes to the same weights bit for bit`` () =
    let file = tempModel model
    let whole = Path.Combine(Path.GetDirectoryName file, "whole")
    let killed = Path.Combine(Path.GetDirectoryName file, "killed")
    let r = dsl [ "run"; file; "--out"; whole ]
    Expect.isTrue (r.Code = 0) (r.Out + r.Err)

    use p = start [ "run"; file; "--out"; killed ]
    // Wait for the first whole checkpoint, then kill somewhere inside the next epoch.
    let checkpoint = Path.Combine(killed, "last.safetensors")
    let clock = Stopwatch.StartNew()
    while not (File.Exists checkpoint) && not p.HasExited && clock.Elapsed.TotalSeconds < 120.0 do Thread.Sleep 10
    Thread.Sleep 150
    Expect.isFalse p.HasExited "the run finished before it could be killed; give it more epochs"
    p.Kill true
    p.WaitForExit()

    let resumed = dsl [ "run"; "--resume"; killed ]
    Expect.isTrue (resumed.Code = 0) (resumed.Out + resumed.Err)
    Expect.stringContains resumed.Out "resuming killable" "resumed.Out"
    Expect.equal (File.ReadAllBytes(Path.Combine(killed, "weights.safetensors"))) (File.ReadAllBytes(Path.Combine(whole, "weights.safetensors"))) ""

[<Tests>]
let tests =
    testList "KillTests" [
        testCase "a run killed mid-epoch resumes to the same weights bit for bit" ``a run killed mid-epoch resumes to the same weights bit for bit``
    ]
