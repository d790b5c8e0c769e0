/// `dsl import`: an ONNX file (a pretrained network exported by PyTorch, Keras or dsl) as a model file and a weights
/// file in the language's names and shapes, so that `init from`, `freeze` and `lr-mult` start from its weights.
module Dsl.Cli.Import

open System
open System.IO
open Argu
open Dsl.Core
open Dsl.Compiler
open Dsl.Runtime

type ImportArgs =
    | [<MainCommand; Mandatory>] Onnx_File of path: string
    | Name of string
    | Out of dir: string
    | Input of size: string
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Onnx_File _ -> "the ONNX file to read (opsets 7 to 21)"
            | Name _ -> "the network's name, and the stem of the files written (default: the ONNX file's name)"
            | Out _ -> "the folder to write NAME.model and NAME.safetensors in (default: the current folder)"
            | Input _ -> "the input size, CxHxW (e.g. 3x224x224) or N, where the file leaves it open"

/// A name the model file's `network` line takes: letters, digits and `_`, starting with a letter or `_`.
let private networkName (s: string) =
    let cleaned = String(s |> Seq.map (fun c -> if Char.IsAsciiLetterOrDigit c || c = '_' then c else '_') |> Array.ofSeq)
    if cleaned.Length = 0 || Char.IsAsciiDigit cleaned[0] then "net_" + cleaned else cleaned

let private inputShape (text: string) =
    let parts = text.Split([| 'x'; 'X' |]) |> Array.map (fun p -> match Int32.TryParse p with | true, v when v >= 1 -> Some v | _ -> None)
    match parts with
    | [| Some c; Some h; Some w |] -> Shape.Chw(c, h, w)
    | [| Some n |] -> Shape.Flat n
    | _ -> raise (OnnxImportException(sprintf "--input %s: write CxHxW (e.g. 3x224x224) or N, whole numbers of at least 1" text))

/// The model file: a header saying where it came from, one line per layer with the ONNX node it came from, and a
/// train block to fine-tune from the imported weights.
let modelText (net: ImportedNetwork) (source: string) (weightsPath: string) =
    let inf = net.Network
    let layerText (l: Layer) = Printer.stmt (LayerSyntax.toStmt l)
    let width = net.Lines |> Seq.choose (fun l -> Option.ofObj l.Layer) |> Seq.map (layerText >> String.length) |> Seq.fold max 0
    let size = match inf.Network.Input with Chw (c, h, _) -> sprintf " resize %d%s" h (if c = 3 then "" else sprintf " channels %d" c) | Flat _ -> ""
    [ yield sprintf "// %s, imported by `dsl import` from %s (ONNX opset %d%s)." inf.Network.Name (Path.GetFileName source) net.Opset
          (if net.Producer = "" then "" else ", written by " + net.Producer)
      yield sprintf "// Its weights are %s, under the layer names below; `init ... from` loads them by name." weightsPath
      yield "// To train on other classes, copy this file, change the last dense layer to `dense classes`, and freeze what you keep."
      yield "network " + inf.Network.Name
      yield "  input " + (match inf.Network.Input with Chw (c, h, w) -> sprintf "%d x %d x %d" c h w | Flat n -> string n)
      yield ""
      for line in net.Lines do
          match Option.ofObj line.Layer with
          | None -> yield "  // " + line.Comment
          | Some layer -> yield sprintf "  %-*s  // %s" width (layerText layer) line.Comment
      yield ""
      yield "train"
      // Left as a comment: the check of the file would otherwise need the folder to exist.
      yield sprintf "  // data     folder \"images/train\"%s   (your images, one sub-folder per class)" size
      yield "  normalize  mean-std"
      yield "  batch      32"
      yield "  optimizer  sgd lr 0.001 momentum 0.9"
      yield sprintf "  init       he from \"%s\"" (weightsPath.Replace('\\', '/'))
      yield "  epochs     10" ]
    |> String.concat "\n"
    |> fun s -> s + "\n"

let run (a: ParseResults<ImportArgs>) =
    let file = a.GetResult Onnx_File
    let name = networkName (a.GetResult(Name, Path.GetFileNameWithoutExtension file))
    let dir = a.GetResult(Out, ".")
    let modelPath, weightsPath = Path.Combine(dir, name + ".model"), Path.Combine(dir, name + ".safetensors")
    let input = a.TryGetResult Input |> Option.map inputShape |> Option.toObj
    let net = OnnxImport.Read(file, name, input)
    let text = modelText net file weightsPath
    // The text must read back as the network imported, layer for layer, before anything is written; values the
    // language refuses (an LRN with k 0) are the file's, said as the compiler says them.
    let back =
        try Frontend.compileText modelPath None text
        with ModelFileError errors ->
            raise (OnnxImportException(sprintf "%s holds a network the language does not accept:\n%s\nnothing was written" file (Frontend.renderErrors text errors)))
    if back.Network.Nodes <> net.Network.Network.Nodes then
        failwithf "the model file written for %s does not read back as the network imported; this is a bug in dsl import" file
    try
        Directory.CreateDirectory dir |> ignore
        SafeTensors.Save(weightsPath, net.Weights |> Seq.map (fun kv -> kv.Key, kv.Value), dict [ "network", name; "source", Path.GetFileName file ],
                         fun n -> match net.WeightShapes.TryGetValue n with | true, s -> s | _ -> null)
        Output.AtomicFile.WriteText(modelPath, text)
    with :? IOException | :? UnauthorizedAccessException as e -> raise (OutputException(sprintf "cannot write %s: %s" dir e.Message))
    let layers = net.Network.Layers
    printfn "wrote %s: network %s, input %O, %d layers, %s parameters, output %O" modelPath name net.Network.Network.Input layers.Length
        (net.Network.TotalParams.ToString("N0", Globalization.CultureInfo.InvariantCulture)) (List.last layers).Output
    printfn "wrote %s: %d tensors" weightsPath net.Weights.Count
    for note in net.Notes do printfn "note: %s" note
    0
