/// Signals stop a run within a step wherever it is (one-step epochs included), with a checkpoint and the resume line;
/// a closed stdout or stderr does not stop training; resuming past a finished cosine schedule trains on.
module Dsl.Cli.Tests.StopAndResumeTests

open System
open System.Diagnostics
open System.IO
open System.Threading
open Expecto
open Dsl.Cli.Tests.RunDsl

let private tiny epochs =
    sprintf "network tiny\n  input 1 x 8 x 8\n  conv 4 kernel 3 |> relu\n  flatten\n  dense classes\n  softmax\ntrain\n  data synthetic 3\n  optimizer sgd lr 0.05 momentum 0.9\n  batch 32\n  epochs %d\n" epochs

let private dslDll = Path.Combine(AppContext.BaseDirectory, "dsl.dll")

/// `dsl run` started in the background, its stdout gathered line by line.
let private start (args: string list) =
    let psi = ProcessStartInfo("dotnet", WorkingDirectory = repoRoot, RedirectStandardOutput = true, RedirectStandardError = true)
    psi.ArgumentList.Add dslDll
    args |> List.iter psi.ArgumentList.Add
    let p = Process.Start psi
    let out = Text.StringBuilder()
    let epochs = new CountdownEvent(3)
    p.OutputDataReceived.Add(fun e ->
        if not (isNull e.Data) then
            lock out (fun () -> out.AppendLine e.Data |> ignore)
            if e.Data.StartsWith "epoch" && not epochs.IsSet then epochs.Signal() |> ignore)
    p.BeginOutputReadLine()
    let err = p.StandardError.ReadToEndAsync()
    p, epochs, (fun () -> lock out (fun () -> out.ToString()) + err.Result)

/// A run of one-step epochs (32 images, batch 32) and 100,000 of them, stopped by `signal` after its third epoch: it
/// stops within a second, with the exit code, the checkpoint and the resume line, and no test pass.
let ``a signal stops a run of one-step epochs at once`` (signal: string, code: int) =
    let file = tempModel (tiny 100000)
    let out = Path.Combine(Path.GetDirectoryName file, "stopped")
    let p, epochs, text = start [ "run"; file; "--limit"; "32"; "--out"; out ]
    use p = p
    Expect.isTrue (epochs.Wait(TimeSpan.FromMinutes 3.0)) "three epochs did not finish"
    let kill = Process.Start("kill", [ "-" + signal; string p.Id ])
    kill.WaitForExit()
    let clock = Stopwatch.StartNew()
    Expect.isTrue (p.WaitForExit(TimeSpan.FromSeconds 30.0)) (sprintf "still running 30 s after SIG%s" signal)
    p.WaitForExit()
    let said = text ()
    Expect.equal p.ExitCode code said
    // Every epoch is one step of 32 tiny images: one more step and the checkpoint take milliseconds.
    Expect.isLessThan clock.Elapsed.TotalSeconds 10.0 "seconds from the signal to the exit"
    // "at epoch N, step 1", "at epoch N, during validation" or "before epoch N", as the signal falls.
    Expect.stringContains said "stopped: cancelled " "what dsl printed"
    Expect.stringContains said (sprintf "to continue: dsl run --resume %s" out) "what dsl printed"
    Expect.isFalse (said.Contains "test: loss") "an interrupted run ran its test pass"
    Dsl.Runtime.SafeTensors.Read(Path.Combine(out, "last.safetensors")) |> ignore
    Expect.isFalse (File.Exists(Path.Combine(out, "run.lock"))) "run.lock left behind"
    Expect.isEmpty (Directory.GetFiles(out, "*.tmp")) "temporary files left"
    let resumed = dsl [ "run"; "--resume"; out; "--epochs"; "5" ]
    Expect.equal resumed.Code 0 (resumed.Out + resumed.Err)
    Expect.stringContains resumed.Out "test: loss" "the resumed run's test pass"

/// stdout, stderr or both closed (`>&-`, `2>&-`), as a daemon or a careless script starts it: training goes on to
/// the end and the run folder holds the result.
let ``training goes on with stdout or stderr closed`` () =
    for redirect in [ ">&-"; "2>&-"; ">&- 2>&-" ] do
        let file = tempModel (tiny 2)
        let out = Path.Combine(Path.GetDirectoryName file, "closed")
        let psi = ProcessStartInfo("bash", WorkingDirectory = repoRoot, RedirectStandardOutput = true, RedirectStandardError = true)
        for a in [ "-c"; sprintf "exec dotnet \"$0\" run \"$1\" --out \"$2\" %s" redirect; dslDll; file; out ] do psi.ArgumentList.Add a
        psi.Environment["DSL_DATA"] <- Path.Combine(repoRoot, "tests", "data")
        use p = Process.Start psi
        let said = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd()
        p.WaitForExit()
        Expect.equal p.ExitCode 0 (redirect + ": " + said)
        Expect.isTrue (File.Exists(Path.Combine(out, "weights.safetensors"))) (redirect + ": no weights")
        Expect.equal (File.ReadAllLines(Path.Combine(out, "metrics.csv")).Length) 3 (redirect + ": metrics.csv has a header and two epochs")

/// A cosine schedule spans the run's epochs: at its end the rate is min-lr (0), so resuming a finished run with more
/// epochs used to train them at 0 and change nothing. The schedule is recomputed over the new length: epoch 3 of 3
/// trains at 0.05 * (1 + cos(pi * 2 / 3)) / 2 = 0.0125, and the weights change.
let ``resuming past a finished cosine schedule recomputes it over the new length`` () =
    let file = tempModel ((tiny 2).Replace("  batch 32", "  schedule cosine\n  batch 32"))
    let out = Path.Combine(Path.GetDirectoryName file, "cosine")
    let r = dsl [ "run"; file; "--out"; out ]
    Expect.equal r.Code 0 (r.Out + r.Err)
    let before = File.ReadAllBytes(Path.Combine(out, "weights.safetensors"))
    let resumed = dsl [ "run"; "--resume"; out; "--epochs"; "3" ]
    Expect.equal resumed.Code 0 (resumed.Out + resumed.Err)
    Expect.stringContains resumed.Out "the cosine schedule now spans 3 epochs: after 2 done its learning rate is 0.0125 (the checkpoint's was 0)" "what dsl printed"
    let rows = File.ReadAllLines(Path.Combine(out, "metrics.csv"))
    Expect.equal rows.Length 4 "a header and three epochs"
    let lr = float (rows[3].Split(',')[6])
    Expect.floatClose Accuracy.veryHigh lr 0.0125 "epoch 3's learning rate"
    Expect.notEqual (File.ReadAllBytes(Path.Combine(out, "weights.safetensors"))) before "the added epoch changed the weights"

[<Tests>]
let tests =
    testList "StopAndResumeTests" [
        testCase "SIGTERM stops a run of one-step epochs at once" (fun () -> ``a signal stops a run of one-step epochs at once`` ("TERM", 143))
        testCase "SIGHUP stops a run of one-step epochs at once" (fun () -> ``a signal stops a run of one-step epochs at once`` ("HUP", 129))
        testCase "training goes on with stdout or stderr closed" ``training goes on with stdout or stderr closed``
        testCase "resuming past a finished cosine schedule recomputes it over the new length" ``resuming past a finished cosine schedule recomputes it over the new length``
    ]
