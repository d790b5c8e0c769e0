/// `dsl devices`: every device this machine offers, and which one `--device auto` takes.
module Dsl.Cli.Devices

open Dsl.Runtime

let private mib (bytes: int64) = sprintf "%d MiB" (bytes / (1L <<< 20))

let run () =
    use cpu = new Cpu.CpuDevice()
    printfn "CPU      [cpu]       %s" cpu.Name
    let found, problem = Devices.OpenCl()
    if not (isNull problem) then printfn "OpenCL   none: %s" problem
    for platform, devices in found |> Seq.groupBy (fun d -> d.Platform, d.PlatformVersion) do
        printfn "OpenCL   %s (%s)" (fst platform) (snd platform)
        for d in devices do
            printfn "  [opencl:%d] %s: %s, %d compute units, %s (%s per buffer), %s local, driver %s"
                d.Index d.Name d.KindName d.ComputeUnits (mib d.GlobalMemory) (mib d.MaxAllocation) (mib d.LocalMemory) d.DriverVersion
    let gpus, cudaProblem = Devices.Cuda()
    if not (isNull cudaProblem) then printfn "CUDA     none: %s" cudaProblem
    for g in gpus do
        printfn "CUDA     %s %s: compute %s, %d SMs, %s, driver %s"
            (sprintf "[cuda:%d]" g.Ordinal) g.Name g.ComputeCapability g.Multiprocessors (mib g.GlobalMemory)
            (Cuda.Gpus.VersionText g.DriverVersion)
    // A job of several processes (mpirun, --ranks) on CUDA averages its gradients with NCCL where it loads.
    match Devices.Nccl() with
    | null, problem -> printfn "NCCL     none (a job on GPUs averages its gradients through host memory): %s" problem
    | nccl, _ -> printfn "NCCL     %s: a job on CUDA devices averages its gradients on them" nccl
    // The two kernel paths of a CUDA GPU: NVRTC's generated CUDA C, and ILGPU's kernels with the driver alone.
    let nvrtc, nvrtcProblem = Devices.NvrtcPath()
    if isNull nvrtc then printfn "kernels  nvrtc: none: %s" nvrtcProblem else printfn "kernels  nvrtc: %s" nvrtc
    let ilgpuGpus, ilgpuProblem = Ilgpu.IlgpuDevice.CudaGpus()
    if isNull ilgpuProblem then printfn "kernels  ilgpu: CUDA %s" (String.concat ", " ilgpuGpus)
    else printfn "kernels  ilgpu: CUDA none: %s" ilgpuProblem
    use ilgpuCpu = Ilgpu.IlgpuDevice.OpenCpu()
    printfn "ILGPU    [ilgpu-cpu] %s (slow: for checking the ILGPU kernels, e.g. `dsl selftest --device ilgpu-cpu`)" ilgpuCpu.Name
    if gpus.Count > 0 then
        printfn "cuda:    %s kernels (--kernels nvrtc|ilgpu picks)" (if isNull nvrtc then "ILGPU's" else "NVRTC's")
    match Seq.tryHead gpus, Devices.AutoChoice found with
    | Some g, _ -> printfn "auto:    cuda, %s" g.Name
    | None, null -> printfn "auto:    the CPU device (no CUDA device, no OpenCL GPU; OpenCL drivers on the CPU, such as PoCL, are slower than it)"
    | None, gpu -> printfn "auto:    opencl:%d, %s" gpu.Index gpu.Name
    0
