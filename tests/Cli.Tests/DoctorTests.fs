/// `dsl doctor` and the diagnosis at the end of `dsl run`, as a user runs them.
module Dsl.Cli.Tests.DoctorTests

open System.IO
open Expecto
open Dsl.Cli.Tests.RunDsl

let ``doctor on a run folder from before statistics says what it cannot judge`` () =
    // What the previous version wrote: metrics.csv, the model copy and run.json, no stats.csv.
    let dir = Directory.CreateTempSubdirectory("dsl-old-run-").FullName
    File.WriteAllLines(Path.Combine(dir, "metrics.csv"),
        [ "epoch,train_loss,train_accuracy,val_loss,val_accuracy,val_top5,learning_rate,seconds"
          "1,1.2,0.55,1.0,0.62,0.95,0.02,6.1"
          "2,0.8,0.70,0.75,0.72,0.98,0.02,6.0"
          "3,0.6,0.78,0.65,0.76,0.99,0.02,6.2" ])
    File.Copy(Path.Combine(repoRoot, model "lenet.model"), Path.Combine(dir, "model.model"))
    let r = dsl [ "doctor"; dir ]
    Expect.isTrue (r.Code = 0) (r.Out + r.Err)
    Expect.stringContains r.Out "diagnosis: no finding in what could be judged" "the verdict's first line"
    Expect.stringContains r.Out "cannot judge the learning rate from update ratios" "what it cannot judge"
    Expect.stringContains r.Out "no stats.csv" "why"
    let report = File.ReadAllText(Path.Combine(dir, "report.html"))
    Expect.stringContains report "Run report: lenet" "the report names the network from model.model"
    Expect.stringContains report "No curves.png in this run folder" "a missing picture is said, not broken"

let ``doctor on a folder that is not a run says so without a stack trace`` () =
    let empty = Directory.CreateTempSubdirectory("dsl-not-a-run-").FullName
    let r = dsl [ "doctor"; empty ]
    Expect.equal r.Code 1 r.Err
    Expect.stringContains r.Err "is not a run folder: it has no metrics.csv" "r.Err"
    let missing = dsl [ "doctor"; Path.Combine(empty, "nowhere") ]
    Expect.equal missing.Code 1 missing.Err
    Expect.stringContains missing.Err "no such folder" "missing.Err"
    Expect.isFalse ((r.Err + missing.Err).Contains "   at ") "no stack trace"

let ``a run that diverges prints the diagnosis and writes the report`` () =
    let file = tempModel ((File.ReadAllText(Path.Combine(repoRoot, model "lenet.model"))).Replace("sgd lr 0.01", "sgd lr 1e9"))
    let out = Path.Combine(Path.GetTempPath(), "dsl-cli-diverge-" + string (System.Random().Next()))
    let r = dsl [ "run"; file; "--epochs"; "1"; "--limit"; "256"; "--out"; out ]
    Expect.equal r.Code 1 (r.Out + r.Err)
    Expect.stringContains r.Err "training stopped: the loss became" "r.Err"
    Expect.stringContains r.Out "- divergence: the loss became" "r.Out"
    Expect.stringContains r.Out "change: on the optimizer line, write `lr 1E+08` (it is 1E+09)" "r.Out"
    Expect.isTrue (File.Exists(Path.Combine(out, "report.html"))) "report.html is written"

[<Tests>]
let tests =
    testList "DoctorTests" [
        testCase "doctor on a run folder from before statistics says what it cannot judge" ``doctor on a run folder from before statistics says what it cannot judge``
        testCase "doctor on a folder that is not a run says so without a stack trace" ``doctor on a folder that is not a run says so without a stack trace``
        testCase "a run that diverges prints the diagnosis and writes the report" ``a run that diverges prints the diagnosis and writes the report``
    ]
