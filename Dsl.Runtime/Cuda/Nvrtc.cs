using System.Runtime.InteropServices;

namespace Dsl.Runtime.Cuda;

/// <summary>The NVRTC entry points dsl uses, resolved from a loaded libnvrtc.so.*: compile CUDA C to PTX at run time.</summary>
sealed unsafe class Nvrtc
{
    public readonly delegate* unmanaged<int*, int*, int> nvrtcVersion;
    public readonly delegate* unmanaged<nint*, byte*, byte*, int, byte**, byte**, int> nvrtcCreateProgram;
    public readonly delegate* unmanaged<nint, int, byte**, int> nvrtcCompileProgram;
    public readonly delegate* unmanaged<nint, nuint*, int> nvrtcGetProgramLogSize;
    public readonly delegate* unmanaged<nint, byte*, int> nvrtcGetProgramLog;
    public readonly delegate* unmanaged<nint, nuint*, int> nvrtcGetPTXSize;
    public readonly delegate* unmanaged<nint, byte*, int> nvrtcGetPTX;
    public readonly delegate* unmanaged<nint*, int> nvrtcDestroyProgram;
    /// <summary>The architectures this NVRTC can target (NVRTC 11.2 and later); null where older.</summary>
    public readonly delegate* unmanaged<int*, int> nvrtcGetNumSupportedArchs;
    public readonly delegate* unmanaged<int*, int> nvrtcGetSupportedArchs;

    Nvrtc(nint lib, string path)
    {
        Path = path;
        nvrtcVersion = (delegate* unmanaged<int*, int*, int>)Export(lib, "nvrtcVersion");
        nvrtcCreateProgram = (delegate* unmanaged<nint*, byte*, byte*, int, byte**, byte**, int>)Export(lib, "nvrtcCreateProgram");
        nvrtcCompileProgram = (delegate* unmanaged<nint, int, byte**, int>)Export(lib, "nvrtcCompileProgram");
        nvrtcGetProgramLogSize = (delegate* unmanaged<nint, nuint*, int>)Export(lib, "nvrtcGetProgramLogSize");
        nvrtcGetProgramLog = (delegate* unmanaged<nint, byte*, int>)Export(lib, "nvrtcGetProgramLog");
        nvrtcGetPTXSize = (delegate* unmanaged<nint, nuint*, int>)Export(lib, "nvrtcGetPTXSize");
        nvrtcGetPTX = (delegate* unmanaged<nint, byte*, int>)Export(lib, "nvrtcGetPTX");
        nvrtcDestroyProgram = (delegate* unmanaged<nint*, int>)Export(lib, "nvrtcDestroyProgram");
        if (NativeLibrary.TryGetExport(lib, "nvrtcGetNumSupportedArchs", out var n) && NativeLibrary.TryGetExport(lib, "nvrtcGetSupportedArchs", out var a))
        {
            nvrtcGetNumSupportedArchs = (delegate* unmanaged<int*, int>)n;
            nvrtcGetSupportedArchs = (delegate* unmanaged<int*, int>)a;
        }
        int major, minor;
        CuError.CheckNvrtc(nvrtcVersion(&major, &minor), "reading the NVRTC version");
        Version = $"{major}.{minor}";
    }

    public string Path { get; }
    /// <summary>"12.4": part of the kernel cache key, since another NVRTC may emit other PTX.</summary>
    public string Version { get; }

    /// <summary>The newest architecture NVRTC supports that does not exceed the device's (PTX runs on later GPUs), as "compute_XY".</summary>
    public string Architecture(int major, int minor)
    {
        int device = major * 10 + minor;
        if (nvrtcGetNumSupportedArchs == null) return $"compute_{device}";
        int count;
        CuError.CheckNvrtc(nvrtcGetNumSupportedArchs(&count), "listing NVRTC's architectures");
        var archs = new int[count];
        fixed (int* p = archs) CuError.CheckNvrtc(nvrtcGetSupportedArchs(p), "listing NVRTC's architectures");
        var fit = archs.Where(a => a <= device).DefaultIfEmpty(device).Max();
        return $"compute_{fit}";
    }

    /// <summary>NVRTC, loaded once per process; null with <paramref name="problem"/> (every path tried) when there is none.</summary>
    public static Nvrtc? Get(out string? problem)
    {
        lock (Gate)
        {
            if (cached is null)
            {
                var l = Libraries.Load(Libraries.Nvrtc);
                Nvrtc? n = null;
                string? why = null;
                if (!l.Found) why = $"no NVRTC (install a CUDA toolkit, or `pip install nvidia-cuda-nvrtc-cu12`): {l.Describe()}";
                else
                    try { n = new Nvrtc(l.Handle, l.Path!); }
                    catch (EntryPointNotFoundException e) { why = $"{l.Path} is not a usable NVRTC: {e.Message}"; }
                    catch (DeviceException e) { why = $"{l.Path}: {e.Message}"; }
                cached = (n, why);
            }
            (var nvrtc, problem) = cached.Value;
            return nvrtc;
        }
    }

    static readonly object Gate = new();
    static (Nvrtc?, string?)? cached;

    static nint Export(nint lib, string name) =>
        NativeLibrary.TryGetExport(lib, name, out var f) ? f : throw new EntryPointNotFoundException($"it lacks {name}");
}
