/// Work-group and tile sizes for a target: the compiler's choice, and the checks an override must pass.
/// (TuningModule from C#, beside Dsl.Core.Tuning.)
[<CompilationRepresentation(CompilationRepresentationFlags.ModuleSuffix)>]
module Dsl.Compiler.Render.Tuning

open Dsl.Core

let private isPow2 n = n > 0 && (n &&& (n - 1)) = 0

let rec private floorPow2 n = if n <= 1 then 1 else 2 * floorPow2 (n / 2)

/// Items of one GEMM work-group.
let gemmItems (t: Tuning) = (t.TileM / t.WorkM) * (t.TileN / t.WorkN)

/// Floats added to each row of the GEMM's local slices on tensor cores: with rows of TileM + 4 floats (TileK + 4 in the
/// pipelined layout), the 32 lanes of a warp reading a fragment (8 rows by 4 depths) hit 32 different banks.
let gemmPad (t: Tuning) = if t.TensorCores then 4 else 0

/// Slices in flight: the pipelined GEMM (cp.async into a ring of Stages slices in dynamic shared memory).
let pipelined (t: Tuning) = t.Stages > 1

/// Floats of one stage: a TileK-deep slice of A and of B. Pipelined tensor-core slices lie K-contiguous ([TileM][TileK + pad]),
/// as ldmatrix needs for 32-bit fragments; every other layout is [TileK][TileM + pad].
let gemmStageFloats (t: Tuning) =
    if pipelined t && t.TensorCores then (t.TileM + t.TileN) * (t.TileK + gemmPad t)
    else t.TileK * (t.TileM + t.TileN + 2 * gemmPad t)

/// Bytes of local memory one GEMM work-group uses: every stage of its slices.
let gemmLocalBytes (t: Tuning) = 4L * int64 (t.Stages * gemmStageFloats t)

/// On tensor cores a GEMM work-group's warps form a 2 x (warps / 2) grid over its tile; each warp computes its
/// (TileM / 2) x (TileN / warpsN) block as 16 x 8 products, 8 deep at a time.
let mmaWarps (t: Tuning) = let warps = gemmItems t / 32 in 2, warps / 2

/// GPUs get 64x64 tiles with 4x4 outputs per item (256 items, 8 KiB of local memory), enough work per
/// item to hide latency, and one-dimensional groups of eight sub-groups (256 on a 32-wide warp); CPUs
/// and small devices get 32x32 tiles (64 items) and groups of 64, since a CPU runs a work-group's items
/// as a loop on one core and wants many groups rather than wide ones. Vector width follows the device's
/// preferred float width, capped at 4 (float4 is the widest type both dialects share).
let choose (target: Target) : Tuning =
    let items = floorPow2 (min target.MaxWorkGroupSize 256)
    let big = target.Kind = GpuTarget && items >= 256 && target.LocalMemoryBytes >= 8192L
    let tile = if big then 64 else 32
    let work = if items >= 64 then 4 else 8
    let gpuGroup = floorPow2 (min target.MaxWorkGroupSize (8 * max 32 target.SubGroupWidth))
    { WorkGroup = if target.Kind = CpuTarget then min items 64 else gpuGroup
      TileM = tile
      TileN = tile
      TileK = 16
      WorkM = work
      WorkN = work
      Vector = min 4 (floorPow2 (max 1 target.VectorWidth))
      TensorCores = target.TensorCores && big
      Stages = 1 }

/// Why a tuning cannot run on a target, or None when it can.
let rec problem (target: Target) (t: Tuning) : string option =
    if not (isPow2 t.WorkGroup) then Some(sprintf "work-group size %d is not a power of two" t.WorkGroup)
    elif t.WorkGroup > target.MaxWorkGroupSize then Some(sprintf "work-group size %d exceeds the device's %d" t.WorkGroup target.MaxWorkGroupSize)
    elif t.TileM % t.WorkM <> 0 || t.TileN % t.WorkN <> 0 then
        Some(sprintf "tile %dx%d is not a multiple of the %dx%d outputs per item" t.TileM t.TileN t.WorkM t.WorkN)
    elif t.TileK < 1 then Some "tile depth must be at least 1"
    elif gemmItems t > target.MaxWorkGroupSize then
        Some(sprintf "GEMM work-groups of %d items exceed the device's %d" (gemmItems t) target.MaxWorkGroupSize)
    elif t.Stages < 1 then Some "GEMM stages must be at least 1"
    elif pipelined t && not target.AsyncCopy then
        Some(sprintf "%d GEMM stages need asynchronous copies (cp.async: CUDA compute capability 8.0 and above)" t.Stages)
    elif not (pipelined t) && gemmLocalBytes t > target.LocalMemoryBytes then
        Some(sprintf "GEMM tiles need %d bytes of local memory, the device has %d" (gemmLocalBytes t) target.LocalMemoryBytes)
    elif pipelined t && gemmLocalBytes t > target.LocalMemoryOptInBytes then
        Some(sprintf "%d GEMM stages need %d bytes of shared memory per block, the device allows %d" t.Stages (gemmLocalBytes t) target.LocalMemoryOptInBytes)
    elif not (List.contains t.Vector [ 1; 2; 4 ]) then Some(sprintf "vector width %d is not 1, 2 or 4" t.Vector)
    elif t.TensorCores then tensorCoreProblem target t
    else None

and private tensorCoreProblem (target: Target) (t: Tuning) =
    let wm, wn = mmaWarps t
    if not target.TensorCores then Some "the device has no TF32 tensor cores (CUDA compute capability 8.0 or above); use --precision fp32"
    elif target.SubGroupWidth <> 32 then Some(sprintf "tensor-core GEMMs need 32-wide warps, the device's are %d" target.SubGroupWidth)
    elif gemmItems t % 64 <> 0 then Some(sprintf "tensor-core GEMMs need an even number of warps per work-group, not %d items" (gemmItems t))
    elif t.TileM % (16 * wm) <> 0 then Some(sprintf "tile height %d does not split into %d warps of 16-row products" t.TileM wm)
    elif t.TileN % (8 * wn) <> 0 then Some(sprintf "tile width %d does not split into %d warps of 8-column products" t.TileN wn)
    elif t.TileK % 8 <> 0 then Some(sprintf "tile depth %d is not a multiple of the products' 8" t.TileK)
    elif pipelined t && t.TileN / wn / 8 % 2 <> 0 then
        Some(sprintf "pipelined tensor-core GEMMs load B fragments two 8-column products at a time; %d columns per warp are not a multiple of 16" (t.TileN / wn))
    else None

/// The large GEMM tiles for GPUs with the shared memory for them (CUDA compute capability 8.0 and above, 48 KiB per block):
/// 128 x 128 blocks 32 deep, 256 items of 8 x 8 outputs (on tensor cores 8 warps of 64 x 32, sixteen 16 x 8 products per
/// 8-deep step), 32 KiB of shared memory (33 KiB with the tensor cores' padding). Four times the outputs of the 64 x 64 tiles per block and twice the FLOPs per
/// byte loaded from global memory (32 against 16). None where the target cannot take them.
let large (target: Target) : Tuning option =
    let t = { choose target with TileM = 128; TileN = 128; TileK = 32; WorkM = 8; WorkN = 8 }
    if target.Kind = GpuTarget && t.WorkGroup >= 256 && problem target t = None then Some t else None

/// The pipelined GEMM for GPUs with asynchronous copies (CUDA compute capability 8.0 and above): the large tiles' 128 x 128
/// blocks 32 deep, with the next slices copied (cp.async) while one is computed. As many stages (2 to 4) as let two blocks
/// share an SM: half the opt-in shared memory per block (163 KiB on sm_80, 227 KiB on sm_90; each is the SM's less the 1 KiB
/// a block reserves), so 2 stages on an A100 and 3 on an H100 or H200 (36 KiB each on tensor cores, 32 KiB in FP32). One
/// block per SM would leave nothing to run while its 8 warps wait at a barrier. None where the target cannot take them.
let pipelinedTiles (target: Target) : Tuning option =
    large target
    |> Option.bind (fun t ->
        let stageBytes = 4L * int64 (gemmStageFloats { t with Stages = 2 })
        let stages = min 4 (int (target.LocalMemoryOptInBytes / 2L / stageBytes))
        let p = { t with Stages = stages }
        if target.AsyncCopy && stages >= 2 && problem target p = None then Some p else None)
