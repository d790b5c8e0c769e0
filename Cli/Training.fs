/// `dsl run`: trains a model file, showing progress as a live bar on a terminal and one line per epoch in a log.
module Dsl.Cli.Training

open System
open System.IO
open Dsl.Core
open Dsl.Compiler
open Dsl.Runtime
open Dsl.Runtime.Data
open Spectre.Console

type RunSettings =
    { File: string
      Classes: int option
      Device: string
      Options: TrainOptions
      Threads: int option }

/// The device named by --device (Dsl.Runtime.Devices); says on stderr what auto chose.
let device (name: string) (threads: int option) : IDevice =
    Devices.Open(name, Option.toNullable threads, fun line -> eprintfn "%s" line)

let private pct (v: float) = if Double.IsNaN v then "  -  " else sprintf "%5.2f%%" (100.0 * v)
let private lossStr (v: float) = if Double.IsNaN v then "-" else sprintf "%.4f" v

let private epochLine (r: EpochResult) =
    sprintf "epoch %3d  loss %s  acc %s  val loss %s  val acc %s  top-5 %s  lr %.3g  %5.1fs"
        r.Epoch (lossStr r.TrainLoss) (pct r.TrainAccuracy) (lossStr r.ValLoss) (pct r.ValAccuracy) (pct r.ValTop5) r.LearningRate r.Seconds

/// One line per epoch: what a redirected log or CI wants.
type private LineProgress() =
    interface IProgress<TrainProgress> with
        member _.Report p =
            match Option.ofObj p.Finished with
            | Some r -> printfn "%s  %.0f img/s" (epochLine r) p.ImagesPerSecond
            | None -> ()

let private trainLive (trainer: Trainer) trainSet testSet =
    if Console.IsOutputRedirected then trainer.Run(trainSet, testSet, LineProgress())
    else
        let mutable result = Unchecked.defaultof<TrainResult>
        AnsiConsole.Progress()
            .AutoClear(false)
            .Columns([| TaskDescriptionColumn() :> ProgressColumn; ProgressBarColumn(); PercentageColumn(); RemainingTimeColumn(); SpinnerColumn() |])
            .Start(fun ctx ->
                let mutable task: ProgressTask = null
                let report (p: TrainProgress) =
                    if isNull task || (task.IsFinished && isNull p.Finished) then
                        task <- ctx.AddTask(sprintf "epoch %d/%d" p.Epoch p.Epochs, true, float p.Steps)
                    task.Value <- float p.Step
                    match Option.ofObj p.Finished with
                    | Some r -> task.Description <- Markup.Escape(epochLine r); task.StopTask()
                    | None -> task.Description <- sprintf "epoch %d/%d  loss %.4f  %.0f img/s" p.Epoch p.Epochs p.Loss p.ImagesPerSecond
                result <- trainer.Run(trainSet, testSet, Progress.Synchronous report))
        result

let run (s: RunSettings) =
    let inf, _ = Frontend.compileFile s.File s.Classes
    let config = inf.Network.Train |> Option.defaultValue TrainConfig.defaults
    let data = config.Data |> Option.map (fun d -> d.Source) |> Option.defaultValue (Synthetic 10)
    Report.printSummary inf
    use dev = device s.Device s.Threads
    let seed = if s.Options.Seed.HasValue then s.Options.Seed.Value else config.Seed
    let struct (trainSet, testSet) = DataSources.Load(data, inf.Network.Input, seed)
    use trainer = new Trainer(inf, config, dev, s.Options)
    printfn "training %s on %s: %d training images, batch %d, run folder %s" inf.Network.Name dev.Name trainSet.Count trainer.BatchSize s.Options.OutputDirectory
    let result = trainLive trainer trainSet testSet
    result.StoppedBecause |> Option.ofObj |> Option.iter (printfn "stopped: %s")
    printfn "test: loss %s  accuracy %s  top-5 %s  (%d images)" (lossStr result.Test.Loss) (pct result.Test.Accuracy) (pct result.Test.Top5) result.Test.Count
    printfn "weights: %s" result.WeightsPath
    0
