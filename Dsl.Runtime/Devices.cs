using Dsl.Runtime.Cpu;
using Dsl.Runtime.Cuda;
using Dsl.Runtime.Ilgpu;
using Dsl.Runtime.OpenCl;

namespace Dsl.Runtime;

/// <summary>Finding devices and opening one by the name a user gives: cpu, opencl (the first OpenCL GPU, else the
/// first OpenCL device), opencl:N (the N-th in `dsl devices`), cuda (the first CUDA device), ilgpu-cpu (ILGPU's CPU
/// accelerator running the ILGPU kernels), or auto.</summary>
public static class Devices
{
    public const string Names = "cpu, opencl, opencl:N, cuda, ilgpu-cpu or auto";

    /// <summary>The OpenCL devices present, and why there are none where there are none.</summary>
    public static IReadOnlyList<OpenClDeviceInfo> OpenCl(out string? problem) => Platforms.List(out problem);

    /// <summary>The CUDA devices present, and why there are none where there are none (every library path tried, or
    /// the driver's result by name).</summary>
    public static IReadOnlyList<CudaDeviceInfo> Cuda(out string? problem) => Gpus.List(out problem);

    /// <summary>What auto picks after CUDA: an OpenCL GPU where there is one; otherwise the CPU device, which outruns OpenCL
    /// drivers on the CPU such as PoCL. Null means the CPU device.</summary>
    public static OpenClDeviceInfo? AutoChoice(IReadOnlyList<OpenClDeviceInfo> found) => found.FirstOrDefault(d => d.Kind.IsGpuTarget);

    /// <summary>Whether <paramref name="name"/> names a device at all (cpu, auto, opencl, opencl:N, cuda, ilgpu-cpu), present or not.</summary>
    public static bool IsName(string name) => name is not null && (
        name is "cpu" or "auto" or "opencl" or "cuda" or "ilgpu-cpu" || name.StartsWith("opencl:") && int.TryParse(name["opencl:".Length..], out var i) && i >= 0);

    /// <summary>Opens the named device; <paramref name="say"/> hears which device auto chose, or why it passed one over.
    /// Auto takes the first CUDA device where there is one, then an OpenCL GPU, then the CPU. <paramref name="tiles"/> picks the
    /// GEMM tiles of a GPU (the CPU device has kernels of its own).</summary>
    public static IDevice Open(string name, int? threads = null, Action<string>? say = null, Precision precision = Precision.Default, GemmTiles tiles = GemmTiles.Standard)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (threads is < 1) throw new ArgumentOutOfRangeException(nameof(threads), threads, "a device needs at least one thread");
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
                        var d = new CudaDevice(first, precision: precision, tiles: tiles);
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
                return found.Count == 0 ? throw new DeviceException($"no CUDA device: {problem}; use --device opencl or --device cpu") : new CudaDevice(found[0], precision: precision, tiles: tiles);
            }
            default:
                if (name.StartsWith("opencl:") && int.TryParse(name["opencl:".Length..], out var index))
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

    /// <summary>The compiler's own choice (null) unless large GEMM tiles were asked for.</summary>
    static Dsl.Core.Tuning? OpenClTuning(OpenClDeviceInfo info, GemmTiles tiles) =>
        tiles == GemmTiles.Standard ? null : GemmTilesChoice.Tuning(info.Target, tiles);
}
