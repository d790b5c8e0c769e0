/// `dsl export`: a finished run's network and weights as an ONNX model for inference elsewhere.
module Dsl.Cli.Export

open System.IO
open Argu
open Dsl.Compiler
open Dsl.Runtime

type ExportArgs =
    | [<MainCommand; Mandatory>] Run_Dir of path: string
    | [<Mandatory>] Onnx of file: string
    | Classes of int
    | Seed of int
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Run_Dir _ -> "the run folder (runs/NAME-TIME) holding model.model, run.json and weights.safetensors; or a model file, exported with random (He) weights for benchmarks"
            | Onnx _ -> "the ONNX file to write (opset 13)"
            | Classes _ -> "with a model file: number of classes, where the data set does not say"
            | Seed _ -> "with a model file: seed of the random weights (default 1)"

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

let run (a: ParseResults<ExportArgs>) =
    let dir = a.GetResult Run_Dir
    let out = a.GetResult Onnx
    let inf, weights, metadata, path =
        if File.Exists dir then
            let inf, weights, metadata = randomWeights dir (a.TryGetResult Classes) (a.GetResult(Seed, 1))
            inf, weights, metadata, dir
        else fromRun dir
    try
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath out)) |> ignore
        OnnxExport.Save(out, inf, weights, metadata)
    with
    | :? DataException as e -> raise (DataException(sprintf "%s: %s" path e.Message))
    | :? IOException | :? System.UnauthorizedAccessException as e -> raise (DataException(sprintf "cannot write %s: %s" out e.Message))
    printfn "wrote %s: ONNX opset %d, %s, input %s [batch, %O], output %s [batch, %O] (%d bytes)"
        out OnnxExport.Opset inf.Network.Name OnnxExport.Input inf.Network.Input OnnxExport.Output (List.last inf.Layers).Output (FileInfo out).Length
    0
