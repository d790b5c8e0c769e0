/// The `dsl` command end to end: exit codes (0 ok, 1 failure, 2 bad model file or usage), what it prints, no stack traces.
module Dsl.Cli.Tests.CommandTests

open System.IO
open System.Text.RegularExpressions
open Expecto
open Dsl.Cli.Tests.RunDsl

let private noStackTrace (r: Result) = Expect.isFalse ((r.Out + r.Err).Contains("   at ")) ("contains " + "   at ")

let ``check says ok with the parameter count`` () =
    let r = dsl [ "check"; model "alexnet.model"; "--classes"; "1000" ]
    Expect.equal r.Code 0 "r.Code"
    Expect.stringContains r.Out "ok: alexnet" "r.Out"
    Expect.stringContains r.Out "60,965,224 parameters" "r.Out"

let ``summary shows the AlexNet table`` () =
    let r = dsl [ "summary"; model "alexnet.model"; "--classes"; "1000"; "--batch"; "16" ]
    Expect.equal r.Code 0 "r.Code"
    for shape in [ "96x55x55"; "256x27x27"; "256x6x6"; "9216"; "4096"; "1000" ] do
        Expect.stringContains r.Out shape "r.Out"
    Expect.stringContains r.Out "60,965,224" "r.Out"
    Expect.stringContains r.Out "training step at batch 16" "r.Out"

/// A generated network of 3,000 layers: `run` and `summary` show its first and last 25 layers and a line for the rest;
/// `summary --all` lists every one. It plans in seconds (a 99,000-layer one took 152 s in silence).
let ``a long network's table is cut, and summary --all lists every layer`` () =
    let file = tempModel "network long\n  input 16\n  repeat 1500 (dense 16 |> relu)\n  dense classes\n  softmax\ntrain\n  data synthetic 3\n  batch 32\n  epochs 1\n"
    let rows (text: string) = text.Split('\n') |> Array.filter (fun l -> l.Contains "dense" || l.Contains "relu" || l.Contains "softmax")
    let clock = System.Diagnostics.Stopwatch.StartNew()
    let cut = dsl [ "summary"; file; "--batch"; "32" ]
    Expect.equal cut.Code 0 (cut.Out + cut.Err)
    Expect.isLessThan clock.Elapsed.TotalSeconds 60.0 "seconds to plan and print 3,002 layers"
    Expect.equal (rows cut.Out).Length 50 "layer rows shown"
    Expect.stringContains cut.Out "... 2,952 layers (`dsl summary --all` lists every one) ..." "the cut line"
    Expect.stringContains cut.Out "softmax" "the last layer"
    let all = dsl [ "summary"; file; "--all" ]
    Expect.equal all.Code 0 (all.Out + all.Err)
    Expect.equal (rows all.Out).Length 3002 "layer rows with --all"

let ``a bad model file is exit 2 with file, line, column and caret`` () =
    let path = tempModel "network x\n  input 3 x 32 x 32\n  conv 16 kernl 3\n"
    let r = dsl [ "check"; path ]
    Expect.equal r.Code 2 "r.Code"
    Expect.stringContains r.Err "test.model:3:11: error: conv has no option `kernl`" "r.Err"
    Expect.stringContains r.Err "^" "r.Err"
    Expect.stringContains r.Err "did you mean `kernel`?" "r.Err"
    noStackTrace r

let ``a missing model file is exit 2 without a stack trace`` () =
    let r = dsl [ "check"; "no/such.model" ]
    Expect.equal r.Code 2 "r.Code"
    Expect.stringContains r.Err "no such model file" "r.Err"
    noStackTrace r

let ``nonsense numbers on the command line are usage errors`` (flag: string, value: string) =
    let r = dsl [ "run"; model "lenet.model"; flag; value ]
    Expect.equal r.Code 2 "r.Code"
    Expect.stringContains r.Err flag "r.Err"
    noStackTrace r

let ``an unknown verb is a usage error`` () =
    let r = dsl [ "trian"; model "lenet.model" ]
    Expect.equal r.Code 2 "r.Code"
    Expect.stringContains r.Err "unknown command `trian` (`dsl --help` lists the commands)" "r.Err"


let ``the ILGPU path: devices lists it, kernels writes its PTX, a CUDA run without a GPU and --kernels off CUDA are refused`` () =
    let devices = dsl [ "devices" ]
    Expect.equal devices.Code 0 "devices.Code"
    for line in [ "kernels  nvrtc:"; "kernels  ilgpu:"; "[ilgpu-cpu]" ] do Expect.stringContains devices.Out line "devices.Out"
    let out = Directory.CreateTempSubdirectory("dsl-ilgpu-ptx-").FullName
    let listing = dsl [ "kernels"; model "lenet.model"; "--target"; "ilgpu:sm_90"; "--out"; out ]
    Expect.equal listing.Code 0 (listing.Out + listing.Err)
    let ptx = Directory.GetFiles(out, "*.ptx")
    Expect.isGreaterThan ptx.Length 5 "PTX files"
    // ILGPU 1.5.3 writes the lowest architecture that has the capabilities a kernel uses (CudaCapabilityContext's
    // TargetArchitecture): sm_80 here, which the driver, or ptxas -arch=sm_90 in IlgpuPtxTests, compiles for sm_90.
    for f in ptx do Expect.stringContains (File.ReadAllText f) ".version 7.8\n.target sm_80" f
    let offCuda = dsl [ "run"; model "lenet.model"; "--device"; "cpu"; "--kernels"; "ilgpu" ]
    Expect.equal offCuda.Code 1 "offCuda.Code"
    Expect.stringContains offCuda.Err "--kernels ilgpu picks the kernels of a CUDA GPU" "offCuda.Err"
    noStackTrace offCuda
    if devices.Out.Contains "CUDA     none" then
        let noGpu = dsl [ "run"; model "lenet.model"; "--device"; "cuda"; "--kernels"; "ilgpu" ]
        Expect.equal noGpu.Code 1 "noGpu.Code"
        Expect.stringContains noGpu.Err "no CUDA device" "noGpu.Err"
        noStackTrace noGpu

/// What `dsl predict` printed: for each file, its classes' percentages by class name.
let private predictions (output: string) =
    let mutable current = ""
    [ for line in output.Split('\n') do
        let m = Regex.Match(line, @"^\s+([0-9.]+)%\s+(.+)$")
        if m.Success then yield current, (m.Groups[2].Value.Trim(), float m.Groups[1].Value)
        elif line.Length > 0 && not (line.StartsWith "auto:") then current <- line.Trim() ]
    |> List.groupBy fst
    |> List.map (fun (file, rows) -> file, Map.ofList (List.map snd rows))
    |> Map.ofList

/// A JPEG without its EXIF segment (APP1): the pixels as stored, with nothing saying how to turn them.
let private withoutExif (jpeg: byte[]) =
    let rec segments at acc =
        let length = int jpeg[at + 2] * 256 + int jpeg[at + 3]
        if jpeg[at + 1] = 0xDAuy then List.rev (jpeg[at..] :: acc)
        elif jpeg[at + 1] = 0xE1uy then segments (at + 2 + length) acc
        else segments (at + 2 + length) (jpeg[at .. at + 1 + length] :: acc)
    Array.concat (jpeg[..1] :: segments 2 [])

/// Every format the loader takes goes through `dsl predict`; the phone-style photo (stored on its side, EXIF
/// orientation 6) is classified as its upright twin is, and not as its stored pixels would be.
let private predictEveryFormat (runDir: string) =
    let data name = Path.Combine(repoRoot, "tests", "Dsl.Runtime.Tests", "Images", "data", name)
    let dir = Directory.CreateTempSubdirectory("dsl-predict-").FullName
    let sideways = Path.Combine(dir, "sideways.jpg")
    File.WriteAllBytes(sideways, withoutExif (File.ReadAllBytes(data "orientation6.jpg")))
    let files =
        [ "rgb8.png"; "rgb16.png"; "palette-alpha.png"; "greyalpha8.png"; "interlaced.png"; "colour.jpg"; "progressive.jpg"
          "cmyk.jpg"; "orientation1.jpg"; "orientation6.jpg"; "lossless.webp"; "lossy.webp"; "frames.gif"; "rgb24.bmp" ]
        |> List.map data
    let r = dsl ([ "predict"; "--top"; "10"; runDir ] @ files @ [ sideways ])
    Expect.equal r.Code 0 (r.Out + r.Err)
    let found = predictions r.Out
    for file in files @ [ sideways ] do
        Expect.equal (found |> Map.tryFind file |> Option.map Map.count) (Some 10) $"{file}: ten classes with their probabilities"
    let distance a b = Map.fold (fun sum name (p: float) -> sum + abs (p - Map.find name found[b])) 0.0 found[a]
    let upright, turned = distance (data "orientation6.jpg") (data "orientation1.jpg"), distance sideways (data "orientation1.jpg")
    Expect.isLessThan upright 1.0 "the EXIF-rotated photo is classified as the upright one (percentage points apart, over all classes)"
    Expect.isGreaterThan turned (upright + 1.0) "the same pixels without the EXIF tag are classified differently"

let ``run trains lenet briefly, writes its run folder, and predict reads every image format`` () =
    let out = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "dsl-cli-run-" + string (System.Random().Next()))
    let r = dsl [ "run"; model "lenet.model"; "--epochs"; "1"; "--limit"; "512"; "--batch"; "64"; "--out"; out ]
    Expect.isTrue (r.Code = 0) (r.Out + r.Err)
    Expect.stringContains r.Out "epoch   1" "r.Out"
    Expect.stringContains r.Out "test: loss" "r.Out"
    Expect.isTrue (System.IO.File.Exists(System.IO.Path.Combine(out, "metrics.csv"))) "metrics.csv is written"
    Expect.isTrue (System.IO.File.Exists(System.IO.Path.Combine(out, "weights.safetensors"))) "weights.safetensors is written"
    predictEveryFormat out

let ``bench reports rates, arithmetic against a measured peak, and both kernel tables`` () =
    let r = dsl [ "bench"; model "lenet.model"; "--device"; "cpu"; "--batch"; "4"; "--steps"; "2"; "--warmup"; "1" ]
    Expect.isTrue (r.Code = 0) (r.Out + r.Err)
    for line in [ "training:"; "inference:"; "per kernel (training step, profiled, "; "per kernel (inference, profiled, "; "optimiser update"; "ConvForward conv2+relu" ] do
        Expect.stringContains r.Out line "r.Out"
    let m = Regex.Match(r.Out, @"arithmetic: inference ([0-9.]+) GFLOP/s .* measured FP32 peak ([0-9.]+) GFLOP/s")
    Expect.isTrue m.Success r.Out
    let rate = Regex.Match(r.Out, @"inference: +([0-9.]+) images/s")
    Expect.isTrue rate.Success r.Out
    let achieved, peak, images = float m.Groups[1].Value, float m.Groups[2].Value, float rate.Groups[1].Value
    Expect.isTrue (peak > 1.0 && achieved > 0.0) (sprintf "inference %.1f GFLOP/s against a peak of %.1f" achieved peak)
    // The rate counts direct multiply-adds: lenet is 12.27 M an image (hand count: conv1 0.63 M, conv2 10.04 M, dense1
    // 1.61 M, dense2 0.005 M), 24.55 MFLOP. Winograd's conv2 does a quarter of those multiplies, so the rate may pass
    // the FMA peak (254.7 against 232.3 GFLOP/s seen); the count itself must be the hand count, within the printed
    // figures' rounding. (It was bounded by the peak, which only held while conv2 did more multiplies.)
    let perImage = achieved * 1e3 / images
    Expect.isTrue (abs (perImage - 24.55) < 0.25) (sprintf "%.2f MFLOP an image counted (%.1f GFLOP/s at %.1f images/s), not 24.55" perImage achieved images)

[<Tests>]
let tests =
    testList "CommandTests" [
        testCase "check says ok with the parameter count" ``check says ok with the parameter count``
        testCase "summary shows the AlexNet table" ``summary shows the AlexNet table``
        testCase "a long network's table is cut, and summary --all lists every layer" ``a long network's table is cut, and summary --all lists every layer``
        testCase "a bad model file is exit 2 with file, line, column and caret" ``a bad model file is exit 2 with file, line, column and caret``
        testCase "a missing model file is exit 2 without a stack trace" ``a missing model file is exit 2 without a stack trace``
        testCase "nonsense numbers on the command line are usage errors (--batch, 0)" (fun () -> ``nonsense numbers on the command line are usage errors`` ("--batch", "0"))
        testCase "nonsense numbers on the command line are usage errors (--epochs, -1)" (fun () -> ``nonsense numbers on the command line are usage errors`` ("--epochs", "-1"))
        testCase "nonsense numbers on the command line are usage errors (--limit, 0)" (fun () -> ``nonsense numbers on the command line are usage errors`` ("--limit", "0"))
        testCase "an unknown verb is a usage error" ``an unknown verb is a usage error``
        testCase "the ILGPU path: devices lists it, kernels writes its PTX, a CUDA run without a GPU and --kernels off CUDA are refused" ``the ILGPU path: devices lists it, kernels writes its PTX, a CUDA run without a GPU and --kernels off CUDA are refused``
        testCase "run trains lenet briefly, writes its run folder, and predict reads every image format" ``run trains lenet briefly, writes its run folder, and predict reads every image format``
        testCase "bench reports rates, arithmetic against a measured peak, and both kernel tables" ``bench reports rates, arithmetic against a measured peak, and both kernel tables``
    ]
