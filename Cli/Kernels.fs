/// `dsl kernels`: the kernel sources a device would compile for a model (training step, inference step, optimizer updates)
/// written to a folder, and for CUDA a table per kernel of what ptxas made of it (NVRTC --ptxas-options=-v): registers,
/// stack frame, spills, static and dynamic shared memory and the blocks per SM those allow. Needs NVRTC, no GPU.
module Dsl.Cli.Kernels

open System
open System.IO
open Argu
open Dsl.Core
open Dsl.Compiler
open Dsl.Runtime
open Dsl.Runtime.Cuda

type KernelsArgs =
    | [<MainCommand; Mandatory>] File of path: string
    | [<Mandatory>] Target of string
    | Precision of Training.PrecisionChoice
    | Batch of int
    | Classes of int
    | Out of dir: string
    | Tiles of string
    | Check
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | File _ -> "the model file"
            | Target _ -> sprintf "what to render for: %s; or ILGPU's PTX: %s" KernelTarget.Names Ilgpu.IlgpuPtx.Targets
            | Precision _ -> Training.PrecisionChoice.Usage
            | Batch _ -> "batch size (default: the train block's)"
            | Classes _ -> "number of classes, where the data set does not say (default 1000 where it names none)"
            | Out _ -> "folder for the sources and resources.tsv (default kernels/NAME-TARGET-PRECISION[-TILES])"
            | Tiles _ -> sprintf "GEMM tiles: %s (default standard)" GemmTilesChoice.Names
            | Check -> "exit 1 if a CUDA kernel spills, has a stack frame, or fits fewer than 2 blocks per SM"

/// What a kernel must show to pass --check (and CI): no spills, no stack frame, two blocks per SM.
let problems (r: KernelResources) =
    [ if r.SpillStores + r.SpillLoads > 0 then yield sprintf "spills %d B stored, %d B loaded" r.SpillStores r.SpillLoads
      if r.StackFrame > 0 then yield sprintf "%d-byte stack frame" r.StackFrame
      if r.BlocksPerSm < 2 then yield sprintf "%d block per SM (%s)" r.BlocksPerSm r.LimitedBy ]

let private header = "kernel\tthreads\tregisters\tstack\tspill_stores\tspill_loads\tsmem\tdynamic_smem\tblocks_per_sm\tlimited_by"

let private row (r: KernelResources) =
    sprintf "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s" r.Function r.Threads r.Registers r.StackFrame r.SpillStores r.SpillLoads r.SharedBytes r.DynamicSharedBytes r.BlocksPerSm r.LimitedBy

let private print (step: string) (rows: KernelResources list) =
    printfn ""
    printfn "%s step: %d kernels" step rows.Length
    printfn "  %-40s %7s %5s %6s %12s %7s %9s %10s  %s" "kernel" "threads" "regs" "stack" "spill st/ld" "smem" "dyn smem" "blocks/SM" "limited by"
    for r in rows do
        let flag = if List.isEmpty (problems r) then "" else "  <- " + String.Join("; ", problems r)
        printfn "  %-40s %7d %5d %6d %12s %7d %9d %10d  %s%s" r.Function r.Threads r.Registers r.StackFrame (sprintf "%d/%d" r.SpillStores r.SpillLoads) r.SharedBytes r.DynamicSharedBytes r.BlocksPerSm r.LimitedBy flag

/// A value that parses but makes no sense; said on stderr with exit code 2, as Program does for the other verbs.
exception private KernelsUsage of string

/// ILGPU's PTX of every kernel of the training and inference steps, one file per kernel, for ptxas to judge.
let private ilgpuListing (inf: Shapes.Inferred) batch (target: string) arch (out: string) =
    Directory.CreateDirectory out |> ignore
    printfn "%s, batch %d, %s: PTX in %s" inf.Network.Name batch target out
    for mode, step in [ PlanMode.Training, "training"; PlanMode.Inference, "inference" ] do
        let kernels = Ilgpu.IlgpuPtx.Compile([ MemoryPlan.compile mode batch inf ], arch)
        for k in kernels do File.WriteAllText(Path.Combine(out, sprintf "%s-%s.ptx" step k.Name), k.Ptx)
        printfn "  %s step: %d kernels" step kernels.Count
    0

/// The generated CUDA C or OpenCL C of the training and inference steps, with ptxas's resource figures for CUDA targets.
let private generatedListing (a: ParseResults<KernelsArgs>) (inf: Shapes.Inferred) batch (target: KernelTarget) =
    let tiles =
        try GemmTilesChoice.Parse(a.TryGetResult Tiles |> Option.toObj)
        with :? ArgumentException as e -> raise (KernelsUsage e.Message)
    let precisionName = if target.Target.TensorCores then "tf32" else "fp32"
    let name = inf.Network.Name
    let suffix = if tiles = GemmTiles.Standard then "" else "-" + GemmTilesChoice.Name tiles
    let out = a.GetResult(Out, Path.Combine("kernels", sprintf "%s-%s-%s%s" name (target.Name.Replace(':', '-')) precisionName suffix))
    let sources = KernelListing.Render(inf, target, batch, tiles)
    Directory.CreateDirectory out |> ignore
    printfn "%s, batch %d, %s (%s, %A GEMM tiles): sources in %s" name batch target.Name precisionName tiles out
    let rows =
        [ for s in sources do
            let path = Path.Combine(out, sprintf "%s-%s%s" name s.Step target.Extension)
            File.WriteAllText(path, s.Text)
            match Option.ofNullable target.Architecture with
            | Some arch ->
                let rows = KernelListing.Measure(s, arch, sprintf "%s-%s" name s.Step) |> List.ofSeq
                print s.Step rows
                yield! rows |> List.map (fun r -> s.Step, r)
            | None -> printfn "  %s (%s): %d kernels; register figures are CUDA's only" path s.Step s.Threads.Count ]
    if target.Architecture.HasValue then
        File.WriteAllLines(Path.Combine(out, "resources.tsv"), ("step\t" + header) :: (rows |> List.map (fun (step, r) -> step + "\t" + row r)))
        let bad = rows |> List.filter (fun (_, r) -> not (List.isEmpty (problems r)))
        printfn ""
        printfn "%d kernels; %d spill or keep a stack frame; %d fit fewer than 2 blocks per SM (%s, largest shared-memory carve-out)"
            rows.Length (rows |> List.filter (fun (_, r) -> r.SpillStores + r.SpillLoads + r.StackFrame > 0) |> List.length)
            (rows |> List.filter (fun (_, r) -> r.BlocksPerSm < 2) |> List.length) target.Name
        if a.Contains Check && not bad.IsEmpty then 1 else 0
    else 0

let private listing (a: ParseResults<KernelsArgs>) =
    let file = a.GetResult File
    let targetName = a.GetResult Target
    let ilgpuArch = Ilgpu.IlgpuPtx.Architecture targetName
    // A target that makes no sense is a usage error before the model file is compiled.
    let target =
        if ilgpuArch.HasValue then None
        else
            try Some(KernelTarget.Parse(targetName, Training.precision (Training.PrecisionChoice.Text(a.TryGetResult Precision))))
            with :? ArgumentException as e -> raise (KernelsUsage(sprintf "%s (or ILGPU's PTX: %s)" e.Message Ilgpu.IlgpuPtx.Targets))
    let classes =
        match a.TryGetResult Classes with
        | Some c -> Some c
        | None -> try Frontend.compileFile file None |> ignore; None with ModelFileError _ -> Some 1000
    let inf, _ = Frontend.compileFile file classes
    let batch =
        match a.TryGetResult Batch with
        | Some b when b < 1 -> raise (KernelsUsage(sprintf "--batch must be at least 1, got %d" b))
        | Some b -> b
        | None -> inf.Network.Train |> Option.map (fun t -> t.Batch) |> Option.defaultValue TrainConfig.defaults.Batch
    match target with
    | None ->
        let out = a.GetResult(Out, Path.Combine("kernels", sprintf "%s-%s" inf.Network.Name (targetName.Replace(':', '-'))))
        ilgpuListing inf batch targetName ilgpuArch.Value out
    | Some target -> generatedListing a inf batch target

let run (a: ParseResults<KernelsArgs>) =
    try listing a
    with KernelsUsage message ->
        eprintfn "dsl: %s" message
        2
