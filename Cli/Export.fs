/// `dsl export`: a finished run's network and weights as an ONNX model for inference elsewhere.
module Dsl.Cli.Export

open System.IO
open Argu
open Dsl.Compiler
open Dsl.Runtime

type ExportArgs =
    | [<MainCommand; Mandatory>] Run_Dir of path: string
    | [<Mandatory>] Onnx of file: string
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Run_Dir _ -> "the run folder (runs/NAME-TIME) holding model.model, run.json and weights.safetensors"
            | Onnx _ -> "the ONNX file to write (opset 13)"

let private weightsFile = "weights.safetensors"

let run (a: ParseResults<ExportArgs>) =
    let dir = a.GetResult Run_Dir
    let out = a.GetResult Onnx
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
    try
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath out)) |> ignore
        OnnxExport.Save(out, inf, weights, metadata)
    with
    | :? DataException as e -> raise (DataException(sprintf "%s: %s" path e.Message))
    | :? IOException | :? System.UnauthorizedAccessException as e -> raise (DataException(sprintf "cannot write %s: %s" out e.Message))
    printfn "wrote %s: ONNX opset %d, %s, input %s [batch, %O], output %s [batch, %O] (%d bytes)"
        out OnnxExport.Opset inf.Network.Name OnnxExport.Input inf.Network.Input OnnxExport.Output (List.last inf.Layers).Output (FileInfo out).Length
    0
