/// The default initialisation as a user meets it: the shipped lenet starts at ln 10 and ends with its units alive,
/// counted outside dsl by PyTorch on the weights file.
module Dsl.Cli.Tests.InitialisationTests

open System
open System.Diagnostics
open System.Globalization
open System.IO
open Expecto
open Dsl.Cli.Tests.RunDsl

let private firstStepLoss (runDir: string) =
    File.ReadLines(Path.Combine(runDir, "stats.csv"))
    |> Seq.map (fun l -> l.Split ',')
    |> Seq.find (fun f -> f[2] = "run" && f[3] = "loss")
    |> fun f -> Double.Parse(f[4], CultureInfo.InvariantCulture)

let ``the shipped lenet starts at ln 10 and no layer ends with over 5% of its units silent`` () =
    let hasTorch, why =
        use p = Process.Start(ProcessStartInfo("/usr/bin/python3", "-c \"import torch, numpy\"", RedirectStandardError = true))
        let err = p.StandardError.ReadToEnd()
        p.WaitForExit()
        p.ExitCode = 0, err
    if not hasTorch then
        skiptest (sprintf "python3 has no torch or numpy (apt-get install python3-torch): %s" why)
    let out = Path.Combine(Path.GetTempPath(), "dsl-cli-alive-" + string (Random().Next()))
    // 2 epochs of the shipped subset's 1,800 training images: before the default took the layer that feeds the loss
    // to zero, He weights there gave first losses of 3-4 and silenced half of conv2 (issue 23).
    let r = dsl [ "run"; model "lenet.model"; "--epochs"; "2"; "--out"; out ]
    Expect.equal r.Code 0 (r.Out + r.Err)
    let first = firstStepLoss out
    Expect.isLessThan (abs (first / log 10.0 - 1.0)) 0.2 (sprintf "first step loss %g against ln 10 = %g" first (log 10.0))
    let psi = ProcessStartInfo("/usr/bin/python3", RedirectStandardOutput = true, RedirectStandardError = true)
    for a in [ Path.Combine(repoRoot, "tests", "Cli.Tests", "python", "dead_units.py"); Path.Combine(out, "weights.safetensors")
               Path.Combine(repoRoot, "tests", "data", "fashion-mnist") ] do psi.ArgumentList.Add a
    use p = Process.Start psi
    let text = p.StandardOutput.ReadToEnd()
    let err = p.StandardError.ReadToEnd()
    p.WaitForExit()
    Expect.equal p.ExitCode 0 (text + err)
    let silent = Text.RegularExpressions.Regex.Matches(text, @"(\w+) ([\d.]+)%") |> Seq.map (fun m -> m.Groups[1].Value, float m.Groups[2].Value) |> List.ofSeq
    Expect.equal (List.map fst silent) [ "conv1"; "conv2"; "dense1" ] text
    for layer, pct in silent do Expect.isLessThanOrEqual pct 5.0 (sprintf "%s: %g%% of its units silent on every test image (%s)" layer pct text)

[<Tests>]
let tests =
    testList "InitialisationTests" [
        testCase "the shipped lenet starts at ln 10 and no layer ends with over 5% of its units silent" ``the shipped lenet starts at ln 10 and no layer ends with over 5% of its units silent``
    ]
