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
      /// "nvrtc" or "ilgpu" picks a CUDA GPU's kernels; None: NVRTC's where it loads, else ILGPU's.
      Kernels: string option
      Threads: int option
      Epochs: int option
      Batch: int option
      Limit: int option
      Seed: int option
      Init: string option
      /// --sync-batchnorm: a job's batch norms take their statistics over every process's samples.
      SyncBatchNorm: bool
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

/// --kernels: which kernels a CUDA GPU runs.
[<RequireQualifiedAccess>]
type KernelsChoice =
    | Nvrtc
    | Ilgpu
    static member Usage = "a CUDA GPU's kernels: nvrtc (the generated CUDA C) or ilgpu (ILGPU's, the driver alone); default nvrtc where libnvrtc loads, else ilgpu"
    static member Text(k: KernelsChoice option) = k |> Option.map (fun c -> (string c).ToLowerInvariant())

/// The kernel path of a --kernels choice as run.json keeps it.
let kernels (choice: string option) =
    match choice with
    | Some "nvrtc" -> KernelPath.Nvrtc
    | Some "ilgpu" -> KernelPath.Ilgpu
    | _ -> KernelPath.Auto

/// The device named by --device (Dsl.Runtime.Devices); says on stderr what auto chose.
let device (name: string) (threads: int option) (precisionChoice: string option) (kernelsChoice: string option) : IDevice =
    Devices.Open(name, Option.toNullable threads, (fun line -> eprintfn "%s" line), precision precisionChoice, kernels = kernels kernelsChoice)

let private pct (v: float) = if Double.IsNaN v then "  -  " else sprintf "%5.2f%%" (100.0 * v)
let private lossStr (v: float) = if Double.IsNaN v then "-" else sprintf "%.4f" v

let private epochLine (r: EpochResult) =
    sprintf "epoch %3d  loss %s  acc %s  val loss %s  val acc %s  top-5 %s  lr %.3g  %5.1fs"
        r.Epoch (lossStr r.TrainLoss) (pct r.TrainAccuracy) (lossStr r.ValLoss) (pct r.ValAccuracy) (pct r.ValTop5) r.LearningRate r.Seconds

let private duration (seconds: float) =
    let t = TimeSpan.FromSeconds seconds
    if t.TotalDays >= 2.0 then sprintf "%.1f days" t.TotalDays
    elif t.TotalHours >= 1.0 then sprintf "%.1f hours" t.TotalHours
    elif t.TotalMinutes >= 1.0 then sprintf "%.0f min" t.TotalMinutes
    else sprintf "%.0f s" t.TotalSeconds

/// The whole run's length from a few timed steps, said before the first epoch is far along: training steps as timed,
/// validation and test passes at a third of a training step's time per image (a forward pass without its backward).
type private Estimate(epochs: int, validation: int, test: int, batch: int, device: string) =
    let clock = Diagnostics.Stopwatch()
    let mutable said = false
    let mutable firstEpoch = 0
    let mutable timed = 0
    /// The line to print once enough steps are timed, else None.
    member _.Observe(p: TrainProgress) : string option =
        if said || p.Phase <> "train" || not (isNull p.Finished) then None
        elif not clock.IsRunning then
            // The first step (of a fresh run or a resumed one) pays for warm-up: timing starts after it.
            firstEpoch <- p.Epoch
            clock.Start()
            None
        else
            timed <- timed + 1
            // Five steps, or fewer where steps are slow: the estimate should come within the run's first minute.
            if timed < 5 && p.Step < p.Steps && clock.Elapsed.TotalSeconds < 15.0 then None
            else
                said <- true
                let perStep = clock.Elapsed.TotalSeconds / float timed
                let perImage = perStep / float batch / 3.0
                let epoch = perStep * float p.Steps + perImage * float validation
                let left = epochs - firstEpoch + 1
                let total = epoch * float left + perImage * float test
                let hint =
                    if total > 3600.0 then
                        sprintf "\n  that is long on %s: --epochs N and --limit N shorten it (--epochs 1 --limit 2000 shows it end to end); a GPU (--device cuda) is far faster" device
                    else ""
                Some(sprintf "estimate: %.2f s per step of %d images, about %s per epoch with validation, about %s for %d epoch%s and the test pass on %s%s"
                        perStep batch (duration epoch) (duration total) left (if left = 1 then "" else "s") device hint)

/// One line per epoch, the estimate, and the test pass in quarters: what a redirected log or CI wants.
type private LineProgress(estimate: Estimate) =
    let mutable quarter = 0
    interface IProgress<TrainProgress> with
        member _.Report p =
            estimate.Observe p |> Option.iter (printfn "%s")
            match Option.ofObj p.Finished with
            | Some r -> printfn "%s  %.0f img/s" (epochLine r) p.ImagesPerSecond
            | None when p.Phase = "test" && p.Step * 4 / p.Steps > quarter ->
                quarter <- p.Step * 4 / p.Steps
                printfn "test: %d of %d images  %.0f img/s" p.Step p.Steps p.ImagesPerSecond
            | None -> ()

[<Runtime.InteropServices.DllImport("libc")>]
extern nativeint private signal(int signum, nativeint handler)

/// Ctrl-C (SIGINT), SIGTERM and SIGHUP (a closed terminal, a dropped ssh session) stop training after the current step
/// and leave a checkpoint; a second one ends the process as usual. The exit code of a stopped run says which: 130, 143
/// or 129, as a shell reports a signal.
type private StopSignals() =
    let cancel = new Threading.CancellationTokenSource()
    let mutable exitCode = 0
    let request code =
        if cancel.IsCancellationRequested then false
        else
            exitCode <- code
            cancel.Cancel()
            true
    let sigint = Console.CancelKeyPress.Subscribe(fun e -> if request 130 then e.Cancel <- true)
    let on signal code = Runtime.InteropServices.PosixSignalRegistration.Create(signal, fun c -> if request code then c.Cancel <- true)
    let sigterm = on Runtime.InteropServices.PosixSignal.SIGTERM 143
    let sighup =
        // The runtime's own SIGHUP handler ends the process before a registration is asked (strace: it restores the
        // default and raises the signal again); with the default disposition put back first, the registration decides.
        if not (OperatingSystem.IsWindows()) then signal (1, 0n) |> ignore
        Runtime.InteropServices.PosixSignalRegistration.Create(Runtime.InteropServices.PosixSignal.SIGHUP, fun c ->
            if request 129 then
                c.Cancel <- true
                // A closed terminal fails every write; the run folder is the record.
                if not Console.IsOutputRedirected then Console.SetOut IO.TextWriter.Null
                if not Console.IsErrorRedirected then Console.SetError IO.TextWriter.Null)
    member _.Token = cancel.Token
    member _.ExitCode = exitCode
    interface IDisposable with
        member _.Dispose() =
            sighup.Dispose()
            sigterm.Dispose()
            sigint.Dispose()
            cancel.Dispose()

/// Trains with a live bar on a terminal, one line per epoch otherwise (and under mpirun, whose pseudo-terminal is not
/// necessarily the user's); `onStep` hears of every step.
let private trainLive (trainer: Trainer) trainSet testSet (estimate: Estimate) (stop: StopSignals) (job: bool) (onStep: unit -> unit) =
    let lines = LineProgress(estimate) :> IProgress<TrainProgress>
    if Console.IsOutputRedirected || job then trainer.Run(trainSet, testSet, Progress.Synchronous(fun p -> onStep (); lines.Report p), stop.Token)
    else
        let mutable result = Unchecked.defaultof<TrainResult>
        AnsiConsole.Progress()
            .AutoClear(false)
            .Columns([| TaskDescriptionColumn() :> ProgressColumn; ProgressBarColumn(); PercentageColumn(); RemainingTimeColumn(); SpinnerColumn() |])
            .Start(fun ctx ->
                let mutable task: ProgressTask = null
                let mutable pass: ProgressTask = null
                let report (p: TrainProgress) =
                    onStep ()
                    estimate.Observe p |> Option.iter (fun line -> AnsiConsole.MarkupLine(Markup.Escape line))
                    if p.Phase <> "train" then
                        // The validation and test passes: a bar of their own, removed from sight when done.
                        if isNull pass || pass.IsFinished then pass <- ctx.AddTask(p.Phase, true, float p.Steps)
                        pass.Value <- float p.Step
                        pass.Description <- sprintf "%s %d/%d images  %.0f img/s" p.Phase p.Step p.Steps p.ImagesPerSecond
                        if p.Step >= p.Steps then pass.StopTask(); pass.IsIndeterminate <- false
                    else
                        if isNull task || (task.IsFinished && isNull p.Finished) then
                            task <- ctx.AddTask(sprintf "epoch %d/%d" p.Epoch p.Epochs, true, float p.Steps)
                        task.Value <- float p.Step
                        match Option.ofObj p.Finished with
                        | Some r -> task.Description <- Markup.Escape(epochLine r); task.StopTask()
                        | None -> task.Description <- sprintf "epoch %d/%d  loss %.4f  %.0f img/s" p.Epoch p.Epochs p.Loss p.ImagesPerSecond
                result <- trainer.Run(trainSet, testSet, Progress.Synchronous report, stop.Token))
        result

let private runFile = "run.json"
let private modelCopy = "model.model"

/// The settings of the run in `dir`, to continue it.
let resumeSettings (dir: string) device threads =
    let path = Path.Combine(dir, runFile)
    if not (File.Exists path) then
        if File.Exists(Path.Combine(dir, Output.RunFolder.LockName)) then
            // A run killed in its first moments: its folder exists, its settings were never written.
            raise (DataException(sprintf "%s has no %s: the run that made it was stopped before it wrote its settings, so there is nothing to resume; start it afresh with `dsl run MODEL --out %s`" dir runFile dir))
        raise (DataException(sprintf "%s is not a run folder: it has no %s" dir runFile))
    let s =
        try Text.Json.JsonSerializer.Deserialize<RunSettings>(File.ReadAllText path)
        with :? Text.Json.JsonException as e -> raise (DataException(sprintf "%s is unreadable (%s); it is not a run folder's settings" path e.Message))
    { s with File = Path.Combine(dir, modelCopy); Out = dir; Device = device; Threads = threads; Resume = true }

let private initScheme =
    function
    | Some "glorot" -> Some Glorot
    | Some "paper" -> Some PaperInit
    | Some "he" -> Some He
    | Some _ -> Some ByRole
    | None -> None

let private printInitReport (r: InitReport) =
    printfn "init from file: loaded %d tensors (%s)" r.Loaded.Count (String.Join(", ", r.Loaded))
    for s in r.Skipped do printfn "  skipped %s" s
    if r.NotInFile.Count > 0 then printfn "  not in the file, initialised afresh: %s" (String.Join(", ", r.NotInFile))
    if r.UnusedInFile.Count > 0 then printfn "  in the file but not in this network: %s" (String.Join(", ", r.UnusedInFile))

/// An image folder says how many classes it has: its sub-folders (`check`, `summary` and `bench` count them as `run` does).
let folderClasses (file: string) (classes: int option) =
    match classes with
    | Some _ -> classes
    | None ->
        try
            match (Frontend.compileFile file (Some 1) |> fst).Network.Train |> Option.bind (fun t -> t.Data) with
            | Some { Source = ImageFolder path } -> Some (Data.ImageFolder.ClassNames(path).Count)
            | _ -> None
        with ModelFileError _ -> None

/// Writes a run folder's own files (its copy of the model, its settings) through temporary files.
let private writeRunFiles (s: RunSettings) (source: string option) =
    source |> Option.iter (fun text -> Output.AtomicFile.WriteText(Path.Combine(s.Out, modelCopy), text))
    Output.AtomicFile.WriteText(Path.Combine(s.Out, runFile), Text.Json.JsonSerializer.Serialize s)

let run (s: RunSettings) =
    // Under mpirun this process is one of a data-parallel job: process 0 alone prints and writes the run folder.
    let comm = Processes.join ()
    let writes = comm.Rank = 0
    let s = { s with Classes = folderClasses s.File s.Classes; Device = Processes.device comm s.Device; Threads = Processes.threads comm s.Threads }
    let inf, source = Frontend.compileFile s.File s.Classes
    if not s.Resume then Output.RunFolder.CheckNew s.Out
    let config = inf.Network.Train |> Option.defaultValue TrainConfig.defaults
    let data = config.Data |> Option.map (fun d -> d.Source) |> Option.defaultValue (Synthetic 10)
    Report.printSummary false inf
    use dev = device s.Device s.Threads s.Precision s.Kernels
    let seed = s.Seed |> Option.defaultValue config.Seed
    let skipped (f: SkippedFile) = eprintfn "skipped %s: %s" f.Path f.Reason
    // Process 0 fetches a missing data set first; the others then find it in the cache.
    if writes then Data.ensure data
    comm.Barrier()
    if not writes then Data.ensure data
    let struct (trainSet, testSet) = DataSources.Load(data, inf.Network.Input, seed, Option.toObj config.Data, Action<SkippedFile> skipped)
    match data with
    | ImageFolder path -> printfn "%s" (Data.ImageFolder.Summary(path, trainSet, testSet))
    | _ -> ()
    let options =
        TrainOptions(
            OutputDirectory = s.Out, Resume = s.Resume, Epochs = Option.toNullable s.Epochs, Batch = Option.toNullable s.Batch,
            Limit = Option.toNullable s.Limit, Seed = Option.toNullable s.Seed, Init = Option.toObj (initScheme s.Init),
            Log = Action<string>(printfn "%s"), Communicator = comm, SyncBatchNorm = s.SyncBatchNorm,
            Allreduce = Distributed.AllreduceSettings.FromEnvironment(fun name -> Environment.GetEnvironmentVariable name))
    // The memory plan compares each buffer with those alive beside it: tens of thousands of layers take a while.
    if inf.Layers.Length > 10000 then
        printfn "planning the memory of a training step for %d layers (a network this large takes a minute or more)" inf.Layers.Length
    use trainer = new Trainer(inf, config, dev, options)
    Option.ofObj trainer.InitReport |> Option.iter printInitReport
    // The folder is made only now, once the model, the device and the data are known to work, and it is removed
    // again if the run fails before its first step: a failed start leaves nothing behind.
    let created = writes && not (Directory.Exists s.Out)
    // Signals are taken before the folder exists: one that comes while the folder is being set up stops the run
    // before its first step, with the folder whole.
    use stop = new StopSignals()
    let folder = if writes then Some(Output.RunFolder.Lock s.Out) else None
    for f in Option.toList folder do
        for name, bytes in f.Removed do
            printfn "removed %s (%.1f MB): a temporary file of a run stopped while it wrote it" (Path.Combine(s.Out, name)) (float bytes / 1e6)
    let mutable stepped = false
    try
        try
            if writes then writeRunFiles s (if s.Resume then None else Some source)
            let struct (training, validation) = trainer.Images trainSet
            printfn "%s %s on %s: %d training images%s, %d for validation, %d test; batch %d; run folder %s" (if s.Resume then "resuming" else "training")
                inf.Network.Name (Processes.describe comm dev.Name) training (if training < trainSet.Count - validation then sprintf " (--limit, of %d)" (trainSet.Count - validation) else "")
                validation testSet.Count trainer.BatchSize s.Out
            let epochs = s.Epochs |> Option.defaultValue config.Epochs
            let estimate = Estimate(epochs, validation, testSet.Count, trainer.BatchSize, Processes.describe comm dev.Name)
            let result =
                try trainLive trainer trainSet testSet estimate stop (comm.Size > 1) (fun () -> stepped <- true)
                with :? TrainingDivergedException ->
                    // What led there is in stats.csv: say it, then stop as before.
                    if writes then Doctor.printAndReport s.Out
                    reraise ()
            result.StoppedBecause |> Option.ofObj |> Option.iter (printfn "stopped: %s")
            match Option.ofObj result.Test with
            | Some test ->
                printfn "test: loss %s  accuracy %s  top-5 %s  (%d images)" (lossStr test.Loss) (pct test.Accuracy) (pct test.Top5) test.Count
                test.NotFiniteWarning |> Option.ofObj |> Option.iter (eprintfn "warning: %s")
            | None -> ()
            printfn "weights: %s" result.WeightsPath
            for p in result.Pictures do printfn "picture: %s" p
            printfn "report: %s" (IO.Path.Combine(s.Out, Output.RunReport.Name))
            if writes then Doctor.print s.Out
            // Only a run that succeeded leaves the job this way; a failing process exits without it, and mpirun stops the rest.
            comm.Finish()
            if stop.ExitCode <> 0 && not (isNull result.StoppedBecause) then
                printfn "to continue: dsl run --resume %s" s.Out
                stop.ExitCode
            else 0
        finally
            folder |> Option.iter (fun f -> (f :> IDisposable).Dispose())
    with _ when created && not stepped ->
        try Directory.Delete(s.Out, true) with :? IOException | :? UnauthorizedAccessException -> ()
        reraise ()
