using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace Dsl.Runtime.Cuda;

/// <summary>Compiles generated CUDA C with NVRTC for one device, keeping the PTX on disk (under $XDG_CACHE_HOME/dsl/cuda,
/// else ~/.cache/dsl/cuda) keyed by a hash of the source, the options (the architecture among them), the NVRTC version and
/// the device's compute capability, so a second run skips NVRTC. A failed compile saves the source and reports NVRTC's log
/// beside the lines it names.</summary>
sealed unsafe partial class CudaProgramCache(CudaDevice device, Nvrtc nvrtc)
{
    string[] Options => [$"--gpu-architecture={nvrtc.Architecture(device.Info.Major, device.Info.Minor)}", "--std=c++14"];

    /// <summary>A loaded module for <paramref name="source"/>; <paramref name="label"/> names it in messages and file names.</summary>
    public nint Build(string source, string label)
    {
        var options = Options;
        var key = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(
            string.Join("\n", [source, .. options, "nvrtc " + nvrtc.Version, "sm " + device.Info.ComputeCapability])))).ToLowerInvariant();
        var cached = Path.Combine(KernelSources.Root, "cuda", key + ".ptx");
        if (File.Exists(cached) && Load(File.ReadAllBytes(cached), out var module) == 0) return module;
        var ptx = Compile(source, label, key, options);
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

    /// <summary>NUL-terminated PTX, as cuModuleLoadData wants it.</summary>
    byte[] Compile(string source, string label, string key, string[] options)
    {
        nint program;
        fixed (byte* s = Encoding.UTF8.GetBytes(source + "\0"))
        fixed (byte* n = Encoding.UTF8.GetBytes(label + ".cu\0"))
            CuError.CheckNvrtc(nvrtc.nvrtcCreateProgram(&program, s, n, 0, null, null), $"creating the program of {label}");
        try
        {
            var encoded = options.Select(o => Encoding.ASCII.GetBytes(o + "\0")).ToArray();
            var handles = encoded.Select(e => System.Runtime.InteropServices.GCHandle.Alloc(e, System.Runtime.InteropServices.GCHandleType.Pinned)).ToArray();
            int status;
            try
            {
                var pointers = stackalloc byte*[encoded.Length];
                for (int i = 0; i < encoded.Length; i++) pointers[i] = (byte*)handles[i].AddrOfPinnedObject();
                status = nvrtc.nvrtcCompileProgram(program, encoded.Length, pointers);
            }
            finally { foreach (var h in handles) h.Free(); }
            if (status != 0)
            {
                var saved = KernelSources.SaveFailed(source, label, key, ".cu");
                throw new DeviceException(
                    $"NVRTC {nvrtc.Version}: compiling the kernels of {label} for {device.Info.Name} ({string.Join(" ", options)}) failed with " +
                    $"{CuError.NvrtcName(status)}; the generated source is in {saved}\n" + KernelSources.Annotate(Log(program), source, LineRef()));
            }
            nuint size;
            CuError.CheckNvrtc(nvrtc.nvrtcGetPTXSize(program, &size), "reading the PTX size");
            var ptx = new byte[(int)size];
            fixed (byte* p = ptx) CuError.CheckNvrtc(nvrtc.nvrtcGetPTX(program, p), "reading the PTX");
            return ptx;
        }
        finally { nvrtc.nvrtcDestroyProgram(&program); }
    }

    string Log(nint program)
    {
        nuint size;
        if (nvrtc.nvrtcGetProgramLogSize(program, &size) != 0 || size == 0) return "(NVRTC gave no log)";
        var log = new byte[(int)size];
        fixed (byte* l = log) if (nvrtc.nvrtcGetProgramLog(program, l) != 0) return "(NVRTC's log could not be read)";
        return Encoding.UTF8.GetString(log).TrimEnd('\0').Trim();
    }

    /// <summary>NVRTC names lines as "label.cu(LINE): error: ...".</summary>
    [GeneratedRegex(@"\((\d+)\): ")]
    private static partial Regex LineRef();
}
