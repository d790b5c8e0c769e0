/// `dsl run`: trains a model file, showing progress as a live bar on a terminal and one line per epoch in a log.
module Dsl.Cli.Training

open System
open System.IO
open Dsl.Core
open Dsl.Compiler
open Dsl.Runtime
open Dsl.Runtime.Data
open Spectre.Console

/// What `dsl run` was asked; saved as run.json in the run folder so `--resume` repeats it.
type RunSettings =
    { File: string
      Classes: int option
      Device: string
      /// "fp32" forces FP32 products; None (or "tf32") lets a GPU with tensor cores use TF32.
      Precision: string option
      Threads: int option
      Epochs: int option
      Batch: int option
      Limit: int option
      Seed: int option
      Init: string option
      Out: string
      Resume: bool }

/// --precision: tf32 (the default) puts convolution and dense products on TF32 tensor cores where the GPU has them,
/// as cuDNN does; fp32 forces plain FP32 everywhere.
[<RequireQualifiedAccess>]
type PrecisionChoice =
    | Tf32
    | Fp32
    static member Usage = "tf32 (default: TF32 tensor cores for conv and dense products where the GPU has them) or fp32"
    static member Text(p: PrecisionChoice option) = p |> Option.map (fun c -> (string c).ToLowerInvariant())

/// The device precision of a --precision choice as run.json keeps it.
let precision (choice: string option) =
    match choice with
    | Some "fp32" -> Precision.Fp32
    | _ -> Precision.Default

/// The device named by --device (Dsl.Runtime.Devices); says on stderr what auto chose.
let device (name: string) (threads: int option) (precisionChoice: string option) : IDevice =
    Devices.Open(name, Option.toNullable threads, (fun line -> eprintfn "%s" line), precision precisionChoice)

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
    // Ctrl-C stops after the current step and leaves a checkpoint; a second Ctrl-C kills as usual.
    use cancel = new Threading.CancellationTokenSource()
    use _ = Console.CancelKeyPress.Subscribe(fun e ->
        if not cancel.IsCancellationRequested then
            e.Cancel <- true
            cancel.Cancel())
    if Console.IsOutputRedirected then trainer.Run(trainSet, testSet, LineProgress(), cancel.Token)
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
                result <- trainer.Run(trainSet, testSet, Progress.Synchronous report, cancel.Token))
        result

let private runFile = "run.json"
let private modelCopy = "model.model"

/// The settings of the run in `dir`, to continue it.
let resumeSettings (dir: string) device threads =
    let path = Path.Combine(dir, runFile)
    if not (File.Exists path) then raise (DataException(sprintf "%s is not a run folder: it has no %s" dir runFile))
    let s = Text.Json.JsonSerializer.Deserialize<RunSettings>(File.ReadAllText path)
    { s with File = Path.Combine(dir, modelCopy); Out = dir; Device = device; Threads = threads; Resume = true }

let private initScheme =
    function
    | Some "glorot" -> Some Glorot
    | Some "paper" -> Some PaperInit
    | Some _ -> Some He
    | None -> None

let private printInitReport (r: InitReport) =
    printfn "init from file: loaded %d tensors (%s)" r.Loaded.Count (String.Join(", ", r.Loaded))
    for s in r.Skipped do printfn "  skipped %s" s
    if r.NotInFile.Count > 0 then printfn "  not in the file, initialised afresh: %s" (String.Join(", ", r.NotInFile))
    if r.UnusedInFile.Count > 0 then printfn "  in the file but not in this network: %s" (String.Join(", ", r.UnusedInFile))

/// An image folder says how many classes it has: its sub-folders.
let private folderClasses (file: string) (classes: int option) =
    match classes with
    | Some _ -> classes
    | None ->
        try
            match (Frontend.compileFile file (Some 1) |> fst).Network.Train |> Option.bind (fun t -> t.Data) with
            | Some { Source = ImageFolder path } -> Some (Data.ImageFolder.ClassNames(path).Count)
            | _ -> None
        with ModelFileError _ -> None

let run (s: RunSettings) =
    let s = { s with Classes = folderClasses s.File s.Classes }
    let inf, source = Frontend.compileFile s.File s.Classes
    if not s.Resume then
        Directory.CreateDirectory s.Out |> ignore
        File.WriteAllText(Path.Combine(s.Out, modelCopy), source)
        File.WriteAllText(Path.Combine(s.Out, runFile), Text.Json.JsonSerializer.Serialize s)
    let config = inf.Network.Train |> Option.defaultValue TrainConfig.defaults
    let data = config.Data |> Option.map (fun d -> d.Source) |> Option.defaultValue (Synthetic 10)
    Report.printSummary inf
    use dev = device s.Device s.Threads s.Precision
    let seed = s.Seed |> Option.defaultValue config.Seed
    let skipped (f: SkippedFile) = eprintfn "skipped %s: %s" f.Path f.Reason
    Data.ensure data
    let struct (trainSet, testSet) = DataSources.Load(data, inf.Network.Input, seed, Option.toObj config.Data, Action<SkippedFile> skipped)
    let options =
        TrainOptions(
            OutputDirectory = s.Out, Resume = s.Resume, Epochs = Option.toNullable s.Epochs, Batch = Option.toNullable s.Batch,
            Limit = Option.toNullable s.Limit, Seed = Option.toNullable s.Seed, Init = Option.toObj (initScheme s.Init))
    use trainer = new Trainer(inf, config, dev, options)
    Option.ofObj trainer.InitReport |> Option.iter printInitReport
    printfn "%s %s on %s: %d training images, batch %d, run folder %s" (if s.Resume then "resuming" else "training")
        inf.Network.Name dev.Name trainSet.Count trainer.BatchSize s.Out
    let result = trainLive trainer trainSet testSet
    result.StoppedBecause |> Option.ofObj |> Option.iter (printfn "stopped: %s")
    printfn "test: loss %s  accuracy %s  top-5 %s  (%d images)" (lossStr result.Test.Loss) (pct result.Test.Accuracy) (pct result.Test.Top5) result.Test.Count
    printfn "weights: %s" result.WeightsPath
    for p in result.Pictures do printfn "picture: %s" p
    0
