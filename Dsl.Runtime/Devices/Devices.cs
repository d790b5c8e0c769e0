using Dsl.Runtime.Cpu;
using Dsl.Runtime.Cuda;
using Dsl.Runtime.Ilgpu;
using Dsl.Runtime.OpenCl;

namespace Dsl.Runtime;

/// <summary>Finding devices and opening one by the name a user gives: cpu, opencl (the first OpenCL GPU, else the
/// first OpenCL device), opencl:N (the N-th in `dsl devices`), cuda (the first CUDA device), cuda:N, ilgpu-cpu (ILGPU's
/// CPU accelerator running the ILGPU kernels), or auto.</summary>
public static class Devices
{
    public const string Names = "cpu, opencl, opencl:N, cuda, cuda:N, ilgpu-cpu or auto";

    /// <summary>The OpenCL devices present, and why there are none where there are none.</summary>
    public static IReadOnlyList<OpenClDeviceInfo> OpenCl(out string? problem) => Platforms.List(out problem);

    /// <summary>The CUDA devices present, and why there are none where there are none (every library path tried, or
    /// the driver's result by name).</summary>
    public static IReadOnlyList<CudaDeviceInfo> Cuda(out string? problem) => Gpus.List(out problem);

    /// <summary>NCCL as a job of several processes on CUDA would use it ("NCCL 2.21.5 (/usr/lib/.../libnccl.so.2)"), or
    /// null and why not (then the gradients go through host memory).</summary>
    public static string? Nccl(out string? problem) =>
        Distributed.Nccl.Load(out problem) is { } nccl ? $"NCCL {Distributed.Nccl.VersionText(nccl.Version)} ({nccl.Path})" : null;

    /// <summary>Where the NVRTC library that compiles the generated CUDA C was found, or null with why there is none (a
    /// CUDA GPU then runs ILGPU's kernels).</summary>
    public static string? NvrtcPath(out string? problem) => Nvrtc.Get(out problem)?.Path;

    /// <summary>What auto picks after CUDA: an OpenCL GPU where there is one; otherwise the CPU device, which outruns OpenCL
    /// drivers on the CPU such as PoCL. Null means the CPU device.</summary>
    public static OpenClDeviceInfo? AutoChoice(IReadOnlyList<OpenClDeviceInfo> found) => found.FirstOrDefault(d => d.Kind.IsGpuTarget);

    /// <summary>Whether <paramref name="name"/> names a device at all (cpu, auto, opencl, opencl:N, cuda, ilgpu-cpu), present or not.</summary>
    public static bool IsName(string name) => name is not null && (
        name is "cpu" or "auto" or "opencl" or "cuda" or "ilgpu-cpu" || Indexed(name, "opencl:") is >= 0 || Indexed(name, "cuda:") is >= 0);

    /// <summary>N of "opencl:N" or "cuda:N", else null.</summary>
    static int? Indexed(string name, string prefix) => name.StartsWith(prefix) && int.TryParse(name[prefix.Length..], out var i) ? i : null;

    /// <summary>Opens the named device; <paramref name="say"/> hears which device auto chose, or why it passed one over.
    /// Auto takes the first CUDA device where there is one, then an OpenCL GPU, then the CPU. <paramref name="tiles"/> picks the
    /// GEMM tiles of a GPU (the CPU device has kernels of its own); <paramref name="kernels"/> the kernel path of a CUDA GPU.</summary>
    public static IDevice Open(string name, int? threads = null, Action<string>? say = null, Precision precision = Precision.Default, GemmTiles tiles = GemmTiles.Standard,
        KernelPath kernels = KernelPath.Auto)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (threads is < 1) throw new ArgumentOutOfRangeException(nameof(threads), threads, "a device needs at least one thread");
        if (kernels != KernelPath.Auto && name is not ("cuda" or "auto"))
            throw new DeviceException($"--kernels {kernels.ToString().ToLowerInvariant()} picks the kernels of a CUDA GPU; use it with --device cuda (or auto), not {name}");
        switch (name)
        {
            case "cpu":
                return new CpuDevice(threads);
            case "ilgpu-cpu":
                return IlgpuDevice.OpenCpu();
            case "auto":
            {
                try
                {
                    if (Cuda(out _) is [var first, ..])
                    {
                        var d = OpenCuda(first, kernels, say, precision, tiles);
                        say?.Invoke($"auto: {d.Name}");
                        return d;
                    }
                }
                catch (DeviceException e) { say?.Invoke($"auto: CUDA could not be opened ({e.Message}); trying OpenCL"); }
                var found = OpenCl(out _);
                if (AutoChoice(found) is { } gpu)
                {
                    try
                    {
                        var d = new OpenClDevice(gpu, OpenClTuning(gpu, tiles));
                        say?.Invoke($"auto: {d.Name}");
                        return d;
                    }
                    catch (DeviceException e) { say?.Invoke($"auto: {gpu.Name} could not be opened ({e.Message}); using the CPU"); }
                }
                var cpu = new CpuDevice(threads);
                say?.Invoke($"auto: {cpu.Name}");
                return cpu;
            }
            case "opencl":
            {
                var found = OpenCl(out var problem);
                var pick = found.FirstOrDefault(d => d.Kind.IsGpuTarget) ?? found.FirstOrDefault(d => d.Kind.IsAcceleratorTarget) ?? found.FirstOrDefault();
                return pick is null ? throw new DeviceException($"no OpenCL device: {problem}; or use --device cpu") : new OpenClDevice(pick, OpenClTuning(pick, tiles));
            }
            case "cuda":
            {
                var found = Cuda(out var problem);
                return found.Count == 0 ? throw new DeviceException($"no CUDA device: {problem}; use --device opencl or --device cpu") : OpenCuda(found[0], kernels, say, precision, tiles);
            }
            default:
                if (Indexed(name, "cuda:") is int ordinal)
                {
                    var found = Cuda(out var problem);
                    if (found.Count == 0) throw new DeviceException($"no CUDA device: {problem}; use --device opencl or --device cpu");
                    if (ordinal < 0 || ordinal >= found.Count)
                        throw new DeviceException($"there is no CUDA device {ordinal}; `dsl devices` lists {found.Count} (cuda:0 to cuda:{found.Count - 1})");
                    return OpenCuda(found[ordinal], kernels, say, precision, tiles);
                }
                if (Indexed(name, "opencl:") is int index)
                {
                    var found = OpenCl(out var problem);
                    if (found.Count == 0) throw new DeviceException($"no OpenCL device: {problem}; or use --device cpu");
                    if (index < 0 || index >= found.Count)
                        throw new DeviceException($"there is no OpenCL device {index}; `dsl devices` lists {found.Count} (opencl:0 to opencl:{found.Count - 1})");
                    return new OpenClDevice(found[index], OpenClTuning(found[index], tiles));
                }
                throw new DeviceException($"unknown device `{name}`; use {Names}");
        }
    }

    /// <summary>A CUDA GPU with the kernels asked for: NVRTC's where libnvrtc loads (or where asked), else ILGPU's, saying so.</summary>
    static IDevice OpenCuda(CudaDeviceInfo gpu, KernelPath kernels, Action<string>? say, Precision precision, GemmTiles tiles)
    {
        if (kernels == KernelPath.Ilgpu) return IlgpuDevice.OpenCuda();
        if (kernels == KernelPath.Auto && Nvrtc.Get(out var problem) is null)
        {
            say?.Invoke($"cuda: the kernels are ILGPU's, as there is {problem} (--kernels nvrtc insists on NVRTC)");
            return IlgpuDevice.OpenCuda();
        }
        return new CudaDevice(gpu, precision: precision, tiles: tiles);
    }

    /// <summary>The compiler's own choice (null) unless large GEMM tiles were asked for.</summary>
    static Dsl.Core.Tuning? OpenClTuning(OpenClDeviceInfo info, GemmTiles tiles) =>
        tiles == GemmTiles.Standard ? null : GemmTilesChoice.Tuning(info.Target, tiles);
}
