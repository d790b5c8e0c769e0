/// `dsl eval RUN_DIR` and `dsl predict RUN_DIR IMAGE...`: a finished run's network on its test set or on image files.
module Dsl.Cli.Evaluate

open System
open System.IO
open Dsl.Core
open Dsl.Runtime
open Dsl.Runtime.Data

let private pct (v: float) = sprintf "%.2f%%" (100.0 * v)

let eval (runDir: string) (dev: IDevice) =
    use predictor = Predictor.FromRun(runDir, dev)
    let settings = Training.resumeSettings runDir dev.Name None
    let inf = predictor.Network
    let config = inf.Network.Train |> Option.defaultValue TrainConfig.defaults
    let source = config.Data |> Option.map (fun d -> d.Source) |> Option.defaultValue (Synthetic predictor.Classes.Count)
    Data.ensure source
    let struct (_, test) = DataSources.Load(source, inf.Network.Input, settings.Seed |> Option.defaultValue config.Seed, Option.toObj config.Data)
    let e = predictor.Evaluate test
    printfn "%s on %d test images: loss %.4f  accuracy %s  top-5 %s" inf.Network.Name e.Count e.Loss (pct e.Accuracy) (pct e.Top5)
    printfn "per class:"
    for k in 0 .. predictor.Classes.Count - 1 do
        let total = Seq.sum (seq { for j in 0 .. predictor.Classes.Count - 1 -> e.Confusion[k, j] })
        if total > 0 then printfn "  %-20s %7s of %d" predictor.Classes[k] (pct (float e.Confusion[k, k] / float total)) total
    e.NotFiniteWarning |> Option.ofObj |> Option.iter (eprintfn "warning: %s")
    // The figures above are the result; a run folder that cannot be written (read-only) only costs the picture.
    try
        for p in Output.RunPictures.Write(runDir, confusion = e.Confusion, classNames = predictor.Classes) do
            printfn "picture: %s" p
    with :? OutputException as x -> eprintfn "warning: %s" x.Message
    0

let predict (runDir: string) (images: string list) (top: int) (dev: IDevice) =
    use predictor = Predictor.FromRun(runDir, dev)
    let mutable failed = 0
    for image in images do
        try
            let best = predictor.Classify(image, top)
            printfn "%s" image
            for p in best do printfn "  %6.2f%%  %s" (100.0 * float p.Probability) p.Class
        with :? DataException as e ->
            // The decoder's messages name the file already.
            if e.Message.StartsWith(image + ": ") then eprintfn "%s" e.Message else eprintfn "%s: %s" image e.Message
            failed <- failed + 1
    if failed > 0 then 1 else 0
