/// `dsl selftest`: the kernel harness the tests run, against the CPU device, for a user checking a new device
/// without the SDK.
module Dsl.Cli.Selftest

open Argu
open Dsl.Core
open Dsl.Compiler
open Dsl.Runtime
open Dsl.Runtime.Checks

type SelftestArgs =
    | Device of string
    | Seed of int
    | Model of path: string
    | Precision of Training.PrecisionChoice
    | Kernels of Training.KernelsChoice
    | Tiles of string
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Device _ -> sprintf "the device to check: %s (default opencl)" Devices.Names
            | Seed _ -> "seed of the random shapes and inputs (default 1)"
            | Model _ -> "also compare a training step (batch 2) of this model file, e.g. Models/alexnet.model"
            | Precision _ -> Training.PrecisionChoice.Usage + "; tensor-core products are held to a TF32 tolerance"
            | Kernels _ -> Training.KernelsChoice.Usage
            | Tiles _ -> sprintf "GEMM tiles: %s (default standard)" GemmTilesChoice.Names

let private line (r: CheckResult) =
    let verdict = if r.Passed then "ok  " else "FAIL"
    printfn "  %s  %8.1e  %-72s  %s%5.2f s" verdict r.Error r.Name (if r.Passed then "" else sprintf "(worst: %s; tolerance %.0e)  " r.Worst r.Tolerance) r.Seconds
    r.Passed

let run (a: ParseResults<SelftestArgs>) =
    let name = a.GetResult(Device, "opencl")
    let seed = a.GetResult(Seed, 1)
    let tiles = GemmTilesChoice.Parse(a.TryGetResult Tiles |> Option.toObj)
    use device =
        Devices.Open(name, precision = Training.precision (Training.PrecisionChoice.Text(a.TryGetResult Precision)), tiles = tiles,
                     kernels = Training.kernels (Training.KernelsChoice.Text(a.TryGetResult Kernels)))
    // Training on im2col + GEMM, the arithmetic of the other devices' kernels (CpuDevice.TrainingWinograd).
    use reference = new Cpu.CpuDevice(trainingWinograd = false)
    if device :? Cpu.CpuDevice then
        printfn "the CPU device is the reference the checks compare with; choose another device (%s)" Devices.Names
        0
    else
        printfn "checking %s against %s, seed %d%s" device.Name reference.Name seed
            (if Harness.OnTensorCores device then sprintf "; convolution and dense products on TF32 tensor cores, held to %.0e (steps %.0e)" KernelCases.Tf32 KernelCases.Tf32Step else "")
        let kernels = KernelCases.All seed |> Seq.map (fun c -> line (Harness.Check(device, reference, c, seed))) |> Seq.toList
        let step (label: string) (inf: Shapes.Inferred) batch =
            line (Harness.Step(device, reference, label, MemoryPlan.compile PlanMode.Training batch inf, KernelCases.Float32, seed))
        let steps =
            [ yield step "training step of every layer kind (mixed)" (Frontend.compileText "mixed.model" (Some 10) StepCases.Mixed) 5
              match a.TryGetResult Model with
              | Some path ->
                  let inf, _ = Frontend.compileFile path (Some 10)
                  yield step (sprintf "training step of %s, batch 2" path) inf 2
              | None -> () ]
        let passed = List.filter id (kernels @ steps) |> List.length
        let total = kernels.Length + steps.Length
        printfn "%d of %d checks passed" passed total
        if passed = total then 0 else 1
