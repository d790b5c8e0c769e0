module Dsl.Cli.Program

open System
open Argu
open Dsl.Core
open Dsl.Compiler
open Dsl.Runtime

type ModelArgs =
    | [<MainCommand; Mandatory>] File of path: string
    | Classes of int
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | File _ -> "the model file"
            | Classes _ -> "number of classes, where the data set does not say"

type SummaryArgs =
    | [<MainCommand; Mandatory>] File of path: string
    | Classes of int
    | Batch of int
    | All
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | File _ -> "the model file"
            | Classes _ -> "number of classes, where the data set does not say"
            | Batch _ -> "also plan a training step's memory at this batch size"
            | All -> "list every layer (past 60 layers the table shows the first and last 25)"

type RunArgs =
    | [<MainCommand>] File of path: string
    | Resume of run_dir: string
    | Classes of int
    | Device of string
    | Epochs of int
    | Batch of int
    | Limit of int
    | Seed of int
    | Out of dir: string
    | Threads of int
    | Precision of Training.PrecisionChoice
    | Kernels of Training.KernelsChoice
    | Init of InitChoice
    | Ranks of int
    | Sync_Batchnorm
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | File _ -> "the model file"
            | Ranks _ -> "train data-parallel on this many processes of this machine: starts Open MPI's mpirun (see docs/distributed.md)"
            | Sync_Batchnorm -> "on several processes, batch norms normalise over the whole batch, not each process's share (PyTorch's SyncBatchNorm; CPU device)"
            | Resume _ -> "continue a run from its folder's last checkpoint, with the same settings"
            | Classes _ -> "number of classes, where the data set does not say"
            | Device _ -> "cpu, opencl, opencl:N, cuda, cuda:N, ilgpu-cpu or auto (default: auto, the fastest present; see `dsl devices`)"
            | Epochs _ -> "epochs to train (default: the train block's)"
            | Batch _ -> "batch size (default: the train block's)"
            | Limit _ -> "train on at most this many images"
            | Seed _ -> "seed for initialisation, order, dropout and augmentation"
            | Out _ -> "run folder (default runs/NAME-TIMESTAMP)"
            | Threads _ -> "CPU threads (default: all cores)"
            | Init _ -> "weight initialisation: by-role, he, glorot or paper (default: the train block's, else by-role)"
            | Precision _ -> Training.PrecisionChoice.Usage
            | Kernels _ -> Training.KernelsChoice.Usage

and InitChoice =
    | By_Role
    | He
    | Glorot
    | Paper

type BenchArgs =
    | [<MainCommand; Mandatory>] File of path: string
    | Classes of int
    | Device of string
    | Batch of int
    | Steps of int
    | Warmup of int
    | Threads of int
    | Precision of Training.PrecisionChoice
    | Kernels of Training.KernelsChoice
    | Tiles of string
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | File _ -> "the model file"
            | Kernels _ -> Training.KernelsChoice.Usage
            | Tiles _ -> sprintf "GEMM tiles on a GPU: %s (default standard)" GemmTilesChoice.Names
            | Classes _ -> "number of classes (default: the data set's, else 1000)"
            | Device _ -> "cpu, opencl, opencl:N, cuda, cuda:N, ilgpu-cpu or auto (default: auto, the fastest present; see `dsl devices`)"
            | Batch _ -> "batch size (default 32)"
            | Steps _ -> "timed steps (default 10)"
            | Warmup _ -> "untimed steps first (default 2)"
            | Precision _ -> Training.PrecisionChoice.Usage
            | Threads _ -> "CPU threads (default: all cores)"

type EvalArgs =
    | [<MainCommand; Mandatory>] Run_Dir of path: string
    | Device of string
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Run_Dir _ -> "a run folder written by `dsl run`"
            | Device _ -> "cpu (default: auto)"

type PredictArgs =
    | [<MainCommand; Mandatory>] Inputs of run_dir_then_images: string list
    | Top of int
    | Device of string
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Inputs _ -> "a run folder written by `dsl run`, then one or more images (PNG, JPEG, WebP, GIF or BMP)"
            | Top _ -> "how many classes to show (default 5)"
            | Device _ -> "cpu (default: auto)"

type Command =
    | [<CliPrefix(CliPrefix.None)>] Check of ParseResults<ModelArgs>
    | [<CliPrefix(CliPrefix.None)>] Summary of ParseResults<SummaryArgs>
    | [<CliPrefix(CliPrefix.None)>] Run of ParseResults<RunArgs>
    | [<CliPrefix(CliPrefix.None)>] Bench of ParseResults<BenchArgs>
    | [<CliPrefix(CliPrefix.None)>] Eval of ParseResults<EvalArgs>
    | [<CliPrefix(CliPrefix.None)>] Doctor of ParseResults<Doctor.DoctorArgs>
    | [<CliPrefix(CliPrefix.None)>] Predict of ParseResults<PredictArgs>
    | [<CliPrefix(CliPrefix.None)>] Devices
    | [<CliPrefix(CliPrefix.None)>] Selftest of ParseResults<Selftest.SelftestArgs>
    | [<CliPrefix(CliPrefix.None)>] Export of ParseResults<Export.ExportArgs>
    | [<CliPrefix(CliPrefix.None)>] Import of ParseResults<Import.ImportArgs>
    | [<CliPrefix(CliPrefix.None)>] Data of ParseResults<Data.DataArgs>
    | [<CliPrefix(CliPrefix.None)>] Lsp of ParseResults<Lsp.Server.LspArgs>
    | Version
    | [<CliPrefix(CliPrefix.None)>] Kernels of ParseResults<Kernels.KernelsArgs>
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Check _ -> "parse a model file, infer its shapes and say ok or what is wrong"
            | Summary _ -> "print a model's layers with output shapes, parameters and multiply-adds"
            | Run _ -> "train a model as its train block says"
            | Bench _ -> "time training and inference on synthetic data: images/s, per-kernel table, peak device memory, compile time"
            | Eval _ -> "evaluate a finished run's network on its test set: accuracy, top-5, per class, confusion.png"
            | Doctor _ -> "diagnose a run: overfitting, learning rate, dead units, gradients, class imbalance, with evidence; writes report.html"
            | Predict _ -> "classify image files with a finished run's network: the top classes and their probabilities"
            | Devices -> "list the devices found (CPU, OpenCL, CUDA) and the one --device auto takes"
            | Selftest _ -> "check every kernel of a device against the CPU device"
            | Export _ -> "write a finished run's network and weights as an ONNX model for inference"
            | Import _ -> "read an ONNX model (a pretrained network) into a model file and a safetensors weights file"
            | Data _ -> "list, fetch or locate the known data sets (fashion-mnist, mnist, cifar10, cifar100)"
            | Lsp _ -> "serve model files to an editor (Language Server Protocol on standard input and output)"
            | Version -> "print the version of dsl and the commit it was built from"
            | Kernels _ -> "write the generated kernel sources and, for CUDA, each kernel's registers, spills and blocks per SM"

/// Exit codes: 0 success, 1 other failure, 2 a bad model file, an ONNX file `dsl import` cannot read, or bad usage.
let private compile path classes =
    let inf, _ = Frontend.compileFile path (Training.folderClasses path classes)
    inf

let private run (argv: string[]) (cmd: Command) =
    match cmd with
    | Check a ->
        let clock = Diagnostics.Stopwatch.StartNew()
        let inf = compile (a.GetResult ModelArgs.File) (a.TryGetResult ModelArgs.Classes)
        printfn "%s (read, parsed and inferred in %.1f ms)" (Report.checkLine inf) clock.Elapsed.TotalMilliseconds
        0
    | Summary a ->
        let inf = compile (a.GetResult SummaryArgs.File) (a.TryGetResult SummaryArgs.Classes)
        Report.printSummary (a.Contains SummaryArgs.All) inf
        match a.TryGetResult SummaryArgs.Batch with
        | Some b when b < 1 -> raise (UsageError(sprintf "--batch must be at least 1, got %d" b))
        | Some b -> Report.printMemory inf b
        | None -> ()
        0
    | Devices -> Devices.run ()
    | Selftest a -> Selftest.run a
    | Export a -> Export.run a
    | Import a -> Import.run a
    | Data a -> Data.run a
    | Lsp _ -> Lsp.Server.run ()
    | Version ->
        // The informational version: the package version, then `+` and the commit it was built from.
        let attr = Reflection.Assembly.GetExecutingAssembly().GetCustomAttributes(typeof<Reflection.AssemblyInformationalVersionAttribute>, false)
        printfn "dsl %s" (attr |> Array.exactlyOne :?> Reflection.AssemblyInformationalVersionAttribute).InformationalVersion
        0
    | Kernels a -> Kernels.run a
    | Eval a ->
        use dev = Training.device (a.GetResult(EvalArgs.Device, "auto")) None None None
        Evaluate.eval (a.GetResult EvalArgs.Run_Dir) dev
    | Doctor a -> Doctor.run a
    | Predict a ->
        match a.GetResult PredictArgs.Inputs with
        | runDir :: (_ :: _ as images) ->
            let top = a.GetResult(PredictArgs.Top, 5)
            if top < 1 then raise (UsageError(sprintf "--top must be at least 1, got %d" top))
            use dev = Training.device (a.GetResult(PredictArgs.Device, "auto")) None None None
            Evaluate.predict runDir images top dev
        | _ -> raise (UsageError "predict needs a run folder and at least one image")
    | Bench a ->
        let positive name (v: int) = if v < 1 then raise (UsageError(sprintf "--%s must be at least 1, got %d" name v)) else v
        let file = a.GetResult BenchArgs.File
        // Classes from the data set where the file names one, else ImageNet's 1000 (a broken file fails again below, with its error).
        let classes =
            match a.TryGetResult BenchArgs.Classes with
            | Some c -> Some c
            | None -> try compile file None |> ignore; None with ModelFileError _ -> Some 1000
        let tiles = GemmTilesChoice.Parse(a.TryGetResult BenchArgs.Tiles |> Option.toObj)
        let threads = a.TryGetResult BenchArgs.Threads |> Option.map (positive "threads") |> Option.toNullable
        let precision = Training.precision (Training.PrecisionChoice.Text(a.TryGetResult BenchArgs.Precision))
        let kernels = Training.kernels (Training.KernelsChoice.Text(a.TryGetResult BenchArgs.Kernels))
        use dev = Devices.Open(a.GetResult(BenchArgs.Device, "auto"), threads, (fun line -> eprintfn "%s" line), precision, tiles, kernels)
        Bench.run
            { File = file
              Classes = classes
              Batch = positive "batch" (a.GetResult(BenchArgs.Batch, 32))
              Steps = positive "steps" (a.GetResult(BenchArgs.Steps, 10))
              Warmup = a.GetResult(BenchArgs.Warmup, 2)
              Device = dev }
    | Run a when a.Contains RunArgs.Ranks ->
        let ranks = a.GetResult RunArgs.Ranks
        if ranks < 1 then raise (UsageError(sprintf "--ranks must be at least 1, got %d" ranks))
        // The processes get this command line less `run` and `--ranks N`.
        let rec rest args =
            match args with
            | "--ranks" :: _ :: more -> rest more
            | a :: more -> a :: rest more
            | [] -> []
        Ranks.run ranks (argv |> List.ofArray |> List.skipWhile ((<>) "run") |> List.tail |> rest)
    | Run a ->
        let positive name (v: int option) =
            match v with
            | Some n when n < 1 -> raise (UsageError(sprintf "--%s must be at least 1, got %d" name n))
            | v -> v
        match a.TryGetResult RunArgs.Epochs with
        | Some e when e < 0 -> raise (UsageError(sprintf "--epochs must not be negative, got %d" e))
        | _ -> ()
        let settings =
            match a.TryGetResult RunArgs.Resume, a.TryGetResult RunArgs.File with
            | Some dir, file ->
                // A run continues with the settings it started with; what cannot change mid-run is refused, not ignored.
                let fixedSettings =
                    [ (file.IsSome, "a model file (the run folder keeps its own copy, model.model)")
                      (a.Contains RunArgs.Batch, "--batch"); (a.Contains RunArgs.Limit, "--limit"); (a.Contains RunArgs.Seed, "--seed")
                      (a.Contains RunArgs.Init, "--init"); (a.Contains RunArgs.Classes, "--classes"); (a.Contains RunArgs.Out, "--out")
                      (a.Contains RunArgs.Sync_Batchnorm, "--sync-batchnorm") ]
                    |> List.filter fst |> List.map snd
                if not fixedSettings.IsEmpty then
                    raise (UsageError(sprintf "--resume continues a run with its own settings; %s cannot change mid-run (start a new run for that)" (String.Join(", ", fixedSettings))))
                let s = Training.resumeSettings dir (a.GetResult(RunArgs.Device, "auto")) (positive "threads" (a.TryGetResult RunArgs.Threads))
                let s =
                    match a.TryGetResult RunArgs.Epochs with
                    | Some e when Some e <> s.Epochs ->
                        printfn "resuming with %d epochs (the run was started with %s)" e (s.Epochs |> Option.map string |> Option.defaultValue "the train block's")
                        { s with Epochs = Some e }
                    | _ -> s
                let s =
                    match Training.PrecisionChoice.Text(a.TryGetResult RunArgs.Precision) with
                    | Some p -> { s with Precision = Some p }
                    | None -> s
                match Training.KernelsChoice.Text(a.TryGetResult RunArgs.Kernels) with
                | Some k -> { s with Kernels = Some k }
                | None -> s
            | None, None -> raise (UsageError "run needs a model file, or --resume RUN_DIR")
            | None, Some file ->
                let name = IO.Path.GetFileNameWithoutExtension file
                { File = file
                  Classes = a.TryGetResult RunArgs.Classes
                  Device = a.GetResult(RunArgs.Device, "auto")
                  Precision = Training.PrecisionChoice.Text(a.TryGetResult RunArgs.Precision)
                  Kernels = Training.KernelsChoice.Text(a.TryGetResult RunArgs.Kernels)
                  Threads = positive "threads" (a.TryGetResult RunArgs.Threads)
                  Epochs = a.TryGetResult RunArgs.Epochs
                  Batch = positive "batch" (a.TryGetResult RunArgs.Batch)
                  Limit = positive "limit" (a.TryGetResult RunArgs.Limit)
                  Seed = a.TryGetResult RunArgs.Seed
                  Init = a.TryGetResult RunArgs.Init |> Option.map (function By_Role -> "by-role" | He -> "he" | Glorot -> "glorot" | Paper -> "paper")
                  SyncBatchNorm = a.Contains RunArgs.Sync_Batchnorm
                  Out =
                    match a.TryGetResult RunArgs.Out with
                    | Some dir when String.IsNullOrWhiteSpace dir -> raise (UsageError "--out needs a folder name, got an empty one")
                    | Some dir -> dir
                    | None -> IO.Path.Combine("runs", sprintf "%s-%s" name (DateTime.Now.ToString "yyyyMMdd-HHmmss"))
                  Resume = false }
        Training.run settings

[<EntryPoint>]
let main argv =
    StandardStreams.guard ()
    if Console.IsOutputRedirected then
        // Logs and pipes get plain text, wide enough that tables never wrap.
        Spectre.Console.AnsiConsole.Profile.Width <- 160
        Spectre.Console.AnsiConsole.Profile.Capabilities.Ansi <- false
    let parser = ArgumentParser.Create<Command>(programName = "dsl", errorHandler = ProcessExiter(colorizer = fun c -> if c = ErrorCode.HelpText then None else Some ConsoleColor.Red))
    let deviceName name = if Devices.IsName name then None else Some(sprintf "unknown device `%s`; use %s" name Devices.Names)
    match CommandLine.problem typeof<Command> (Map [ "--device", deviceName ]) argv with
    | Some message ->
        eprintfn "dsl: %s" message
        2
    | None ->
    let results = parser.ParseCommandLine(argv, raiseOnUsage = true)
    match results.GetAllResults() with
    | [] ->
        printfn "%s" (parser.PrintUsage())
        2
    | cmd :: _ ->
        try
            run argv cmd
        with
        | UsageError message ->
            eprintfn "dsl: %s" message
            2
        | :? ArgumentException as e ->
            eprintfn "dsl: %s" e.Message
            1
        | :? DataException as e ->
            eprintfn "data: %s" e.Message
            1
        // An ONNX file that cannot become a model file is bad input, as a bad model file is.
        | :? OnnxImportException as e ->
            eprintfn "import: %s" e.Message
            2
        | :? DeviceException as e ->
            eprintfn "device: %s" e.Message
            1
        | :? Distributed.DistributedException as e ->
            eprintfn "mpi: %s" e.Message
            1
        | :? TrainingDivergedException as e ->
            eprintfn "training stopped: %s" e.Message
            1
        | ModelFileError errors ->
            let source = errors |> List.tryHead |> Option.map (fun e -> e.Pos.File) |> Option.filter IO.File.Exists |> Option.map IO.File.ReadAllText |> Option.defaultValue ""
            eprintfn "%s" (Frontend.renderErrors source errors)
            2
        | :? OutputException as e ->
            eprintfn "dsl: %s" e.Message
            1
        // A file or folder the steps above did not expect to fail (a disk that went away): its message, not a stack trace.
        | :? IO.IOException
        | :? UnauthorizedAccessException as e ->
            eprintfn "dsl: %s" e.Message
            1
        | e when isNull (Environment.GetEnvironmentVariable "DSL_TRACE") ->
            eprintfn "dsl: internal error (%s): %s\n  this is a bug in dsl; DSL_TRACE=1 shows where it happened" (e.GetType().Name) e.Message
            1
