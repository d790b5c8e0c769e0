/// `dsl bench`: times training steps (forward, backward, update) and inference on synthetic batches, profiles each
/// kernel, measures peak device memory (IDevice.PeakBytes) and times the kernel compile, cold and cached.
module Dsl.Cli.Bench

open System
open System.Diagnostics
open Dsl.Core
open Dsl.Compiler
open Dsl.Runtime

type BenchSettings = { File: string; Classes: int option; Batch: int; Steps: int; Warmup: int; Device: IDevice }

let private randomBatch (plan: Plan) =
    let rng = Random 1
    let images = Array.init (int plan.Buffers[plan.Images].Floats) (fun _ -> float32 (rng.NextDouble() * 2.0 - 1.0))
    images, Array.init plan.Batch (fun _ -> rng.Next plan.Classes)

/// SGD with momentum and weight decay, as bench/torch_alexnet.py trains: one state tensor per weight.
let private optimizer = Sgd(0.001, 0.9, false, 5e-4)

/// The q-quantile of sorted values (the median at 0.5).
let private quantile (sorted: float[]) (q: float) = sorted[min (sorted.Length - 1) (int (q * float sorted.Length))]

/// The clock the CPU runner profiles kernels with: on one thread its CPU time, else (and on other devices) wall time.
let private profiledOnThreadTime (dev: IDevice) = dev :? Cpu.CpuDevice && Cpu.CpuThreads.Count = 1

let private profileClock (dev: IDevice) =
    if profiledOnThreadTime dev then Cpu.ThreadClock.Seconds() else float (Stopwatch.GetTimestamp()) / float Stopwatch.Frequency

/// Runs `steps` timed steps after `warmup`; returns seconds per step, per update, each step's seconds (sorted) and
/// per-kernel seconds per step.
let private time (dev: IDevice) (parameters: ParameterSet) (plan: Plan) warmup steps =
    use runner = dev.Load(plan, parameters)
    let images, labels = randomBatch plan
    runner.SetBatch(ReadOnlySpan images, ReadOnlySpan labels)
    let updating = Stopwatch()
    let step t =
        runner.Run t |> ignore
        if plan.Mode = Training then
            updating.Start()
            runner.Update(optimizer, 0.001, t + 1L)
            updating.Stop()
    for t in 1 .. warmup do step (int64 t)
    updating.Reset()
    let each = Array.zeroCreate steps
    let clock = Stopwatch.StartNew()
    for t in 1 .. steps do
        let started = clock.Elapsed.TotalSeconds
        step (int64 t)
        each[t - 1] <- clock.Elapsed.TotalSeconds - started
    let perStep = clock.Elapsed.TotalSeconds / float steps
    let perUpdate = updating.Elapsed.TotalSeconds / float steps
    // A separate profiled pass: timing each kernel adds waits that the plain timing must not include. Its last entry
    // is the optimiser update, on the same clock as the kernels.
    runner.KernelSeconds <- Array.zeroCreate plan.Kernels.Length
    let mutable updateSeconds = 0.0
    for t in 1 .. max 1 (steps / 2) do
        runner.Run(int64 t) |> ignore
        if plan.Mode = Training then
            let started = profileClock dev
            runner.Update(optimizer, 0.001, int64 t + 1L)
            updateSeconds <- updateSeconds + profileClock dev - started
    let profiled = Array.append runner.KernelSeconds [| updateSeconds |]
    perStep, perUpdate, Array.sort each, profiled |> Array.map (fun s -> s / float (max 1 (steps / 2)))

/// Seconds `device.Load` of the training plan takes, twice: first with dsl's on-disk kernel cache empty (XDG_CACHE_HOME
/// pointed at a fresh folder for the call, then restored), then with that cache just filled. None on the CPU device,
/// which compiles nothing.
let private compileTimes (dev: IDevice) (parameters: ParameterSet) (plan: Plan) =
    match dev with
    | :? Cpu.CpuDevice -> None
    | _ ->
        let saved = Environment.GetEnvironmentVariable "XDG_CACHE_HOME"
        let fresh = IO.Path.Combine(IO.Path.GetTempPath(), sprintf "dsl-bench-%d-%s" Environment.ProcessId (Guid.NewGuid().ToString "N"))
        let load () =
            let clock = Stopwatch.StartNew()
            use _ = dev.Load(plan, parameters)
            clock.Elapsed.TotalSeconds
        Environment.SetEnvironmentVariable("XDG_CACHE_HOME", fresh)
        try
            let cold = load ()
            let cached = load ()
            Some(cold, cached)
        finally
            Environment.SetEnvironmentVariable("XDG_CACHE_HOME", saved)
            try IO.Directory.Delete(fresh, true) with _ -> ()

let private mib (bytes: int64) = float bytes / 1048576.0

let run (s: BenchSettings) =
    let inf, _ = Frontend.compileFile s.File s.Classes
    let train = MemoryPlan.compile Training s.Batch inf
    let infer = MemoryPlan.compile Inference s.Batch inf
    use parameters = new ParameterSet(s.Device, train, 1, optimizer)
    parameters.Initialize InitScheme.He
    let compile = compileTimes s.Device parameters train
    // Measured: what is live now (parameters, gradients, optimiser state) and the most the training runs add to it.
    s.Device.ResetPeak()
    let trainStep, update, _, kernels = time s.Device parameters train s.Warmup s.Steps
    let peak = s.Device.PeakBytes
    let inferStep, _, inferEach, inferKernels = time s.Device parameters infer s.Warmup s.Steps
    printfn "%s on %s, batch %d, %d timed steps after %d warm-up" inf.Network.Name s.Device.Name s.Batch s.Steps s.Warmup
    printfn "training:  %8.1f images/s  (%.1f ms per step, of which %.1f ms the optimiser update)" (float s.Batch / trainStep) (1000.0 * trainStep) (1000.0 * update)
    // Three decimals: at batch 1 a small network takes a tenth of a millisecond, and the peers are compared by ratio.
    printfn "inference: %8.1f images/s  (%.1f ms per batch; median %.3f ms, p95 %.3f ms)"
        (float s.Batch / inferStep) (1000.0 * inferStep) (1000.0 * quantile inferEach 0.5) (1000.0 * quantile inferEach 0.95)
    printfn "peak device memory: %.1f MiB  (training, measured: parameters, gradients, optimiser state, arena; planned %s before optimiser state)"
        (mib peak) (Report.bytes (MemoryPlan.deviceBytes train))
    match compile with
    | Some(cold, cached) ->
        printfn "compile (load of the training plan): %.3f s cold (empty kernel cache), %.3f s cached" cold cached
    | None -> printfn "compile: none, the CPU device compiles nothing (its kernels are the runtime's own C#)"
    // Forward multiply-adds x 2 FLOPs; a training step counted as three forward passes (forward, data and weight gradients).
    let gflops passes seconds = 2.0 * float passes * float inf.TotalMultiplyAdds * float s.Batch / seconds / 1e9
    match s.Device with
    | :? Cpu.CpuDevice ->
        let peak = Cpu.FmaPeak.Measure Cpu.CpuThreads.Count
        printfn "arithmetic: inference %.1f GFLOP/s (%.0f%% of peak), training %.1f GFLOP/s (%.0f%%); measured FP32 peak %.1f GFLOP/s (%d threads, %s)"
            (gflops 1 inferStep) (100.0 * gflops 1 inferStep / peak) (gflops 3 trainStep) (100.0 * gflops 3 trainStep / peak)
            peak Cpu.CpuThreads.Count Cpu.FmaPeak.Method
    | _ -> printfn "arithmetic: inference %.1f GFLOP/s, training %.1f GFLOP/s" (gflops 1 inferStep) (gflops 3 trainStep)
    let table title (plan: Plan) (seconds: float[]) =
        printfn "\nper kernel (%s, profiled, %s):" title (if profiledOnThreadTime s.Device then "thread CPU time" else "wall time")
        let total = Array.sum seconds
        (plan.Kernels |> List.mapi (fun i k -> MemoryPlan.describe plan k, seconds[i]))
        @ (if plan.Mode = Training then [ "optimiser update", seconds[plan.Kernels.Length] ] else [])
        |> List.sortByDescending snd
        |> List.iter (fun (name, sec) -> printfn "  %-44s %8.2f ms  %5.1f%%" name (1000.0 * sec) (100.0 * sec / total))
    table "training step" train kernels
    table "inference" infer inferKernels
    0
