/// `dsl export`: a finished run's network and weights as an ONNX model for inference elsewhere.
module Dsl.Cli.Export

open System
open System.IO
open Argu
open Dsl.Compiler
open Dsl.Runtime

type ExportArgs =
    | [<MainCommand; Mandatory>] Run_Dir of path: string
    | [<Mandatory>] Onnx of file: string
    | Classes of int
    | Seed of int
    | Force
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Run_Dir _ -> "the run folder (runs/NAME-TIME) holding model.model, run.json and weights.safetensors; or a model file, exported with random (He) weights for benchmarks"
            | Onnx _ -> "the ONNX file to write (opset 13)"
            | Classes _ -> "with a model file: number of classes, where the data set does not say"
            | Seed _ -> "with a model file: seed of the random weights (default 1)"
            | Force -> "replace an existing file that is not an .onnx file (never a run folder's own files)"

let private weightsFile = "weights.safetensors"

/// A model file's network with random He weights, as the CPU device initialises them.
let private randomWeights (file: string) classes seed =
    let inf, _ = Frontend.compileFile file classes
    use cpu = new Cpu.CpuDevice()
    use parameters = new ParameterSet(cpu, MemoryPlan.compile Dsl.Core.PlanMode.Inference 1 inf, seed)
    parameters.Initialize Dsl.Core.InitScheme.He
    let weights = System.Collections.Generic.Dictionary<string, float32[]>()
    for name in parameters.Weights do weights[name] <- parameters.Read name
    inf, weights, System.Collections.Generic.Dictionary<string, string>()

/// A finished run's network and weights.
let private fromRun (dir: string) =
    // The run's own copy of the model and its settings (the class count) give the network the weights were trained for.
    let settings = Training.resumeSettings dir "cpu" None
    let inf, _ = Frontend.compileFile settings.File settings.Classes
    let path = Path.Combine(dir, weightsFile)
    if not (File.Exists path) then
        raise (DataException(sprintf "%s has no %s: the run has not finished; its checkpoints can be resumed with `dsl run --resume %s`" dir weightsFile dir))
    let struct (weights, metadata) = SafeTensors.LoadWithMetadata path
    match metadata.TryGetValue "network" with
    | true, name when name <> inf.Network.Name ->
        raise (DataException(sprintf "%s holds the weights of network %s, and the run's model is %s" path name inf.Network.Name))
    | _ -> ()
    inf, weights, metadata, path

/// Where the ONNX file may go: a new path, or over a regular file that is a previous export (`.onnx`, replaced as
/// torch.onnx.export does) or, with --force, any other regular file outside a run folder. Never a link, a folder, a
/// device or FIFO (writing there would replace the node, or feed a reader), nor a run's own files or the export's source.
let private checkTarget (out: string) (source: string) (force: bool) =
    let refuse (why: string) = raise (UsageError(sprintf "will not write the ONNX file to %s: %s" out why))
    match (Dsl.Runtime.Data.FileKinds.Stat(out, followLinks = false)).Kind with
    | Dsl.Runtime.Data.FileKind.Missing -> ()
    | Dsl.Runtime.Data.FileKind.Link -> refuse "it is a symbolic link; give the path it leads to, or a new name"
    | Dsl.Runtime.Data.FileKind.Directory -> refuse (sprintf "it is a folder; give a file name, e.g. %s" (Path.Combine(out, "model.onnx")))
    | Dsl.Runtime.Data.FileKind.Regular ->
        let folder = Path.GetDirectoryName(Path.GetFullPath out)
        if Dsl.Runtime.Data.FileKinds.RealPath out = Dsl.Runtime.Data.FileKinds.RealPath source then refuse "it is the file being exported"
        elif out.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase) then ()
        elif File.Exists(Path.Combine(folder, "run.json")) then
            refuse (sprintf "it is a file of the run folder %s; give the ONNX file a new name, e.g. %s" folder (Path.Combine(folder, "model.onnx")))
        elif not force then refuse "a file that is not an .onnx file is there; pass --force to replace it, or give another name"
    | kind -> refuse (sprintf "it is not a regular file but %s; give a file path" (Dsl.Runtime.Data.FileKinds.Describe kind))

let run (a: ParseResults<ExportArgs>) =
    let dir = a.GetResult Run_Dir
    let out = a.GetResult Onnx
    let inf, weights, metadata, path =
        if File.Exists dir then
            let inf, weights, metadata = randomWeights dir (a.TryGetResult Classes) (a.GetResult(Seed, 1))
            inf, weights, metadata, dir
        else fromRun dir
    checkTarget out path (a.Contains Force)
    let replacing = File.Exists out
    try
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath out)) |> ignore
        OnnxExport.Save(out, inf, weights, metadata)
    with
    | :? DataException as e -> raise (DataException(sprintf "%s: %s" path e.Message))
    | :? IOException | :? System.UnauthorizedAccessException as e -> raise (DataException(sprintf "cannot write %s: %s" out e.Message))
    printfn "%s %s: ONNX opset %d, %s, input %s [batch, %O], output %s [batch, %O] (%d bytes)"
        (if replacing then "replaced" else "wrote") out OnnxExport.Opset inf.Network.Name OnnxExport.Input inf.Network.Input OnnxExport.Output (List.last inf.Layers).Output (FileInfo out).Length
    0
