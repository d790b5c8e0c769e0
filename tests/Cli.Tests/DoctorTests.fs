/// `dsl doctor` and the diagnosis at the end of `dsl run`, as a user runs them.
module Dsl.Cli.Tests.DoctorTests

open System.IO
open Xunit
open Dsl.Cli.Tests.RunDsl

[<Fact>]
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
    Assert.True((r.Code = 0), r.Out + r.Err)
    Assert.Contains("diagnosis: no finding in what could be judged", r.Out)
    Assert.Contains("cannot judge the learning rate from update ratios", r.Out)
    Assert.Contains("no stats.csv", r.Out)
    let report = File.ReadAllText(Path.Combine(dir, "report.html"))
    Assert.Contains("Run report: lenet", report)
    Assert.Contains("No curves.png in this run folder", report)

[<Fact>]
let ``doctor on a folder that is not a run says so without a stack trace`` () =
    let empty = Directory.CreateTempSubdirectory("dsl-not-a-run-").FullName
    let r = dsl [ "doctor"; empty ]
    Assert.Equal(1, r.Code)
    Assert.Contains("is not a run folder: it has no metrics.csv", r.Err)
    let missing = dsl [ "doctor"; Path.Combine(empty, "nowhere") ]
    Assert.Equal(1, missing.Code)
    Assert.Contains("no such folder", missing.Err)
    Assert.DoesNotContain("   at ", r.Err + missing.Err)

[<Fact>]
let ``a run that diverges prints the diagnosis and writes the report`` () =
    let file = tempModel ((File.ReadAllText(Path.Combine(repoRoot, model "lenet.model"))).Replace("sgd lr 0.02", "sgd lr 1e9"))
    let out = Path.Combine(Path.GetTempPath(), "dsl-cli-diverge-" + string (System.Random().Next()))
    let r = dsl [ "run"; file; "--epochs"; "1"; "--limit"; "256"; "--out"; out ]
    Assert.Equal(1, r.Code)
    Assert.Contains("training stopped: the loss became", r.Err)
    Assert.Contains("- divergence: the loss became", r.Out)
    Assert.Contains("change: on the optimizer line, write `lr 1E+08` (it is 1E+09)", r.Out)
    Assert.True(File.Exists(Path.Combine(out, "report.html")))
