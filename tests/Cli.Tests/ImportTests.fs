/// `dsl import` end to end: the files it writes, its exit code 2 with nothing written for what it refuses, and the
/// transfer-learning example (examples/transfer/) on a generated image folder.
module Dsl.Cli.Tests.ImportTests

open System
open System.Diagnostics
open System.IO
open Expecto
open Dsl.Cli.Tests.RunDsl
open Dsl.Runtime

let private temp prefix = Directory.CreateTempSubdirectory(prefix).FullName

/// `dsl export` of a model file with random weights: an ONNX file as another tool would have written it.
let private exported (modelFile: string) =
    let onnx = Path.Combine(temp "dsl-import-cli-", Path.GetFileNameWithoutExtension modelFile + ".onnx")
    let r = dsl [ "export"; modelFile; "--onnx"; onnx; "--classes"; "10" ]
    Expect.equal r.Code 0 (r.Out + r.Err)
    onnx

let ``import writes a model file that checks and weights in dsl's names and shapes`` () =
    let onnx = exported (model "lenet.model")
    let out = Path.Combine(temp "dsl-import-out-", "pretrained")
    let r = dsl [ "import"; onnx; "--name"; "lenet_pretrained"; "--out"; out ]
    Expect.equal r.Code 0 (r.Out + r.Err)
    let text = File.ReadAllText(Path.Combine(out, "lenet_pretrained.model"))
    // One comment per layer naming its ONNX node; dropout, the identity at inference, is not in the ONNX graph.
    for line in [ "network lenet_pretrained"; "input 1 x 28 x 28"; "conv 32 kernel 5 pad 2  // ONNX Conv conv1"; "maxpool 2               // ONNX MaxPool pool1"
                  "dense 512               // ONNX Gemm dense1"; "softmax                 // ONNX Softmax softmax1"; "init       he from" ] do
        Expect.stringContains text line "the model file"
    let check = dsl [ "check"; Path.Combine(out, "lenet_pretrained.model") ]
    Expect.equal check.Code 0 (check.Out + check.Err)
    Expect.stringContains check.Out "1,663,370 parameters" "the imported network is lenet's size"
    let struct (tensors, metadata) = SafeTensors.Read(Path.Combine(out, "lenet_pretrained.safetensors"))
    Expect.equal tensors["conv1.weight"].Shape [| 32L; 1L; 5L; 5L |] "conv weights [F, C/groups, K, K]"
    Expect.equal tensors["dense1.weight"].Shape [| 512L; 3136L |] "dense weights [out, in]"
    Expect.equal metadata["network"] "lenet_pretrained" "the weights name their network"

let private nothingIn (dir: string) = Expect.isFalse (Directory.Exists dir && Directory.EnumerateFileSystemEntries dir |> Seq.isEmpty |> not) $"{dir} is empty"

let ``a truncated file is one line and exit 2, nothing written`` () =
    let onnx = exported (model "lenet.model")
    let bytes = File.ReadAllBytes onnx
    File.WriteAllBytes(onnx, bytes[.. bytes.Length / 3])
    let out = Path.Combine(temp "dsl-import-out-", "pretrained")
    let r = dsl [ "import"; onnx; "--out"; out ]
    Expect.equal r.Code 2 (r.Out + r.Err)
    Expect.equal (r.Err.TrimEnd().Split('\n').Length) 1 r.Err
    Expect.stringContains r.Err "is not a readable ONNX model" r.Err
    nothingIn out

/// lenet's export with every Relu turned into a Celu (the same length, so the protobuf stays whole): an operator
/// the language has no layer for, refused node by node.
let ``a refused graph lists its nodes and is exit 2, nothing written`` () =
    let onnx = exported (model "lenet.model")
    let bytes = File.ReadAllBytes onnx
    let relu = "Relu"B
    for i in 0 .. bytes.Length - relu.Length do
        if bytes[i .. i + relu.Length - 1] = relu then bytes[i] <- byte 'C'; bytes[i + 1] <- byte 'e'
    File.WriteAllBytes(onnx, bytes)
    let out = Path.Combine(temp "dsl-import-out-", "pretrained")
    let r = dsl [ "import"; onnx; "--out"; out ]
    Expect.equal r.Code 2 (r.Out + r.Err)
    Expect.stringContains r.Err "3 of its 11 nodes have no dsl layer; the first is node 2 \"relu1\" (Celu)" r.Err
    Expect.stringContains r.Err "node 9 \"relu3\" (Celu): dsl has no layer for Celu" r.Err
    Expect.stringContains r.Err "nothing was written" r.Err
    nothingIn out

/// An LRN whose bias (our k) is 0: ONNX allows it, the language does not; said as the compiler says it, exit 2.
let ``values the language refuses are a model-file error, exit 2, nothing written`` () =
    let onnx = exported (tempModel "network lrn\n  input 4 x 6 x 6\n  conv 4 kernel 3 |> lrn size 3 alpha 0.5 beta 0.75 k 1\n  flatten\n  dense classes\n  softmax\n")
    let bytes = File.ReadAllBytes onnx
    // The attribute's name, then its float field (tag 0x15): 1.0 becomes 0.0.
    let bias = Array.append "\n\004bias"B [| 0x15uy |]
    let at = [ 0 .. bytes.Length - bias.Length ] |> List.find (fun i -> bytes[i .. i + bias.Length - 1] = bias)
    Array.fill bytes (at + bias.Length) 4 0uy
    File.WriteAllBytes(onnx, bytes)
    let out = Path.Combine(temp "dsl-import-out-", "pretrained")
    let r = dsl [ "import"; onnx; "--out"; out ]
    Expect.equal r.Code 2 (r.Out + r.Err)
    Expect.stringContains r.Err "holds a network the language does not accept" r.Err
    Expect.stringContains r.Err "lrn k must be positive, got 0" r.Err
    nothingIn out

/// A 24-bit BMP of horizontal or vertical stripes with noise: two classes a small conv net tells apart.
let private stripes (path: string) (horizontal: bool) (rng: Random) =
    let size = 40
    let pixels =
        [| for y in size - 1 .. -1 .. 0 do
               for x in 0 .. size - 1 do
                   let on = ((if horizontal then y else x) / 4) % 2 = 0
                   let v = byte (Math.Clamp((if on then 200 else 40) + rng.Next(-30, 31), 0, 255))
                   yield! [ v; v; v ] |]
    use w = new BinaryWriter(File.Create path)
    w.Write("BM"B); w.Write(54 + pixels.Length); w.Write(0); w.Write(54)
    w.Write(40); w.Write(size); w.Write(size); w.Write(1s); w.Write(24s); w.Write(0); w.Write(pixels.Length)
    w.Write(2835); w.Write(2835); w.Write(0); w.Write(0)
    w.Write(pixels)

/// examples/transfer/transfer.sh on 40 generated images and tiny-vgg (exported with random weights as the stand-in
/// for VGG16): the frozen conv base keeps the imported weights through both stages; fine-tuning moves the last block.
let ``the transfer example imports, trains a head on a frozen base, then fine-tunes the last block`` () =
    let work = temp "dsl-transfer-"
    let images = Path.Combine(work, "images")
    let rng = Random 3
    for cls, horizontal in [ "horizontal", true; "vertical", false ] do
        Directory.CreateDirectory(Path.Combine(images, cls)) |> ignore
        for i in 1..20 do stripes (Path.Combine(images, cls, $"{i}.bmp")) horizontal rng
    let onnx = exported (Path.Combine(repoRoot, "examples", "transfer", "tiny-vgg.model"))
    let psi = ProcessStartInfo("bash", WorkingDirectory = repoRoot, RedirectStandardOutput = true, RedirectStandardError = true)
    for a in [ Path.Combine("examples", "transfer", "transfer.sh"); onnx; images; Path.Combine(work, "out") ] do psi.ArgumentList.Add a
    psi.Environment["DSL"] <- "dotnet " + Path.Combine(AppContext.BaseDirectory, "dsl.dll")
    psi.Environment["EPOCHS"] <- "2"
    psi.Environment["BATCH"] <- "8"
    use p = Process.Start psi
    let out, err = p.StandardOutput.ReadToEndAsync(), p.StandardError.ReadToEndAsync()
    p.WaitForExit()
    Expect.equal p.ExitCode 0 (out.Result + err.Result)
    Expect.stringContains out.Result "init from file: loaded 6 tensors (conv1.weight, conv1.bias, conv2.weight, conv2.bias, conv3.weight, conv3.bias)" "stage 1 starts from the imported conv base"
    let weights (path: string) = SafeTensors.Load(Path.Combine(work, "out", path))
    let imported, features, finetuned = weights "pretrained/base.safetensors", weights "runs/features/weights.safetensors", weights "runs/finetune/weights.safetensors"
    for name in [ "conv1.weight"; "conv2.weight"; "conv3.weight" ] do
        Expect.equal features[name] imported[name] $"{name} is frozen while the head trains"
    Expect.equal finetuned["conv1.weight"] imported["conv1.weight"] "conv1 stays frozen while the last block is fine-tuned"
    Expect.notEqual finetuned["conv3.weight"] features["conv3.weight"] "the last block (conv2, conv3) is fine-tuned"

[<Tests>]
let tests =
    testList "ImportTests" [
        testCase "import writes a model file that checks and weights in dsl's names and shapes" ``import writes a model file that checks and weights in dsl's names and shapes``
        testCase "a truncated file is one line and exit 2, nothing written" ``a truncated file is one line and exit 2, nothing written``
        testCase "a refused graph lists its nodes and is exit 2, nothing written" ``a refused graph lists its nodes and is exit 2, nothing written``
        testCase "values the language refuses are a model-file error, exit 2, nothing written" ``values the language refuses are a model-file error, exit 2, nothing written``
        testCase "the transfer example imports, trains a head on a frozen base, then fine-tunes the last block" ``the transfer example imports, trains a head on a frozen base, then fine-tunes the last block``
    ]
