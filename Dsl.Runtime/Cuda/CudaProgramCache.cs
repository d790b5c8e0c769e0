using System.Security.Cryptography;
using System.Text;

namespace Dsl.Runtime.Cuda;

/// <summary>Compiles generated CUDA C with NVRTC for one device, keeping the PTX on disk (under $XDG_CACHE_HOME/dsl/cuda,
/// else ~/.cache/dsl/cuda) keyed by a hash of the source, the options (the architecture among them), the NVRTC version and
/// the device's compute capability, so a second run skips NVRTC. A failed compile saves the source and reports NVRTC's log
/// beside the lines it names.</summary>
sealed unsafe class CudaProgramCache(CudaDevice device, Nvrtc nvrtc)
{
    string[] Options => Nvrtc.Options(nvrtc.Architecture(device.Info.Major, device.Info.Minor));

    /// <summary>A loaded module for <paramref name="source"/>; <paramref name="label"/> names it in messages and file names.</summary>
    public nint Build(string source, string label)
    {
        var options = Options;
        var key = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(
            string.Join("\n", [source, .. options, "nvrtc " + nvrtc.Version, "sm " + device.Info.ComputeCapability])))).ToLowerInvariant();
        var cached = Path.Combine(KernelSources.Root, "cuda", key + ".ptx");
        if (File.Exists(cached) && Load(File.ReadAllBytes(cached), out var module) == 0) return module;
        var ptx = nvrtc.Compile(source, $"{label} for {device.Info.Name}", options, key);
        int status = Load(ptx, out module);
        if (status != 0)
            CuError.Check(status, $"loading the PTX of {label} (NVRTC {nvrtc.Version}, {options[0]}) on {device.Info.Name}");
        KernelSources.Store(cached, ptx);
        return module;
    }

    /// <summary>The driver JIT-compiles PTX for the device; a stale or foreign cached file fails here and is rebuilt.</summary>
    int Load(byte[] ptx, out nint module)
    {
        device.MakeCurrent();
        nint m;
        int status;
        fixed (byte* p = ptx) status = device.Cu.cuModuleLoadData(&m, p);
        module = status == 0 ? m : 0;
        return status;
    }
}
