using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;

namespace Dsl.Runtime.Cuda;

/// <summary>The NVRTC entry points dsl uses, resolved from a loaded libnvrtc.so.*: compile CUDA C to PTX at run time.
/// NVRTC needs no GPU, so the generated source is compiled by the real compiler in the tests too.</summary>
sealed unsafe partial class Nvrtc
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
    /// <summary>Device code for an "sm_XY" architecture (NVRTC 11.1 and later; NVRTC runs ptxas itself); null where older.</summary>
    public readonly delegate* unmanaged<nint, nuint*, int> nvrtcGetCUBINSize;
    public readonly delegate* unmanaged<nint, byte*, int> nvrtcGetCUBIN;

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
        if (NativeLibrary.TryGetExport(lib, "nvrtcGetCUBINSize", out var cs) && NativeLibrary.TryGetExport(lib, "nvrtcGetCUBIN", out var cb))
        {
            nvrtcGetCUBINSize = (delegate* unmanaged<nint, nuint*, int>)cs;
            nvrtcGetCUBIN = (delegate* unmanaged<nint, byte*, int>)cb;
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
        var archs = SupportedArchitectures();
        var fit = archs.Where(a => a <= device).DefaultIfEmpty(device).Max();
        return $"compute_{fit}";
    }

    /// <summary>The options dsl compiles with, for an architecture such as "compute_90" (PTX) or "sm_90" (device code).</summary>
    public static string[] Options(string architecture) => [$"--gpu-architecture={architecture}", "--std=c++14"];

    /// <summary>The architectures this NVRTC can target, as numbers (90 for sm_90); empty where it cannot say.</summary>
    public int[] SupportedArchitectures()
    {
        if (nvrtcGetNumSupportedArchs == null) return [];
        int count;
        CuError.CheckNvrtc(nvrtcGetNumSupportedArchs(&count), "listing NVRTC's architectures");
        var archs = new int[count];
        fixed (int* p = archs) CuError.CheckNvrtc(nvrtcGetSupportedArchs(p), "listing NVRTC's architectures");
        return archs;
    }

    /// <summary>Compiles <paramref name="source"/> with <paramref name="options"/>: PTX (NUL-terminated, as cuModuleLoadData
    /// wants it) for a "compute_XY" architecture, a cubin for an "sm_XY" one. A failure throws with NVRTC's log, each line it
    /// names shown beneath, and the source saved under a name the message gives; <paramref name="label"/> names it.</summary>
    public byte[] Compile(string source, string label, IReadOnlyList<string> options, string key) => Compile(source, label, options, key, out _);

    /// <summary>As above, and <paramref name="log"/> gets NVRTC's log of a successful compile: with --ptxas-options=-v, ptxas's
    /// registers, stack frame, spills and shared memory per kernel (see <see cref="PtxasReport"/>).</summary>
    public byte[] Compile(string source, string label, IReadOnlyList<string> options, string key, out string log)
    {
        bool cubin = options.Any(o => o.StartsWith("--gpu-architecture=sm_"));
        if (cubin && nvrtcGetCUBIN == null) throw new DeviceException($"NVRTC {Version} cannot emit device code (cubin); use a compute_XY architecture");
        nint program;
        fixed (byte* s = Encoding.UTF8.GetBytes(source + "\0"))
        fixed (byte* n = Encoding.UTF8.GetBytes(label + ".cu\0"))
            CuError.CheckNvrtc(nvrtcCreateProgram(&program, s, n, 0, null, null), $"creating the program of {label}");
        try
        {
            var encoded = options.Select(o => Encoding.ASCII.GetBytes(o + "\0")).ToArray();
            var handles = encoded.Select(e => GCHandle.Alloc(e, GCHandleType.Pinned)).ToArray();
            int status;
            try
            {
                var pointers = stackalloc byte*[encoded.Length];
                for (int i = 0; i < encoded.Length; i++) pointers[i] = (byte*)handles[i].AddrOfPinnedObject();
                status = nvrtcCompileProgram(program, encoded.Length, pointers);
            }
            finally { foreach (var h in handles) h.Free(); }
            if (status != 0)
            {
                var saved = KernelSources.SaveFailed(source, label, key, ".cu");
                throw new DeviceException(
                    $"NVRTC {Version}: compiling the kernels of {label} ({string.Join(" ", options)}) failed with " +
                    $"{CuError.NvrtcName(status)}; the generated source is in {saved}\n" + KernelSources.Annotate(Log(program), source, LineRef()));
            }
            nuint size;
            if (cubin) CuError.CheckNvrtc(nvrtcGetCUBINSize(program, &size), "reading the cubin size");
            else CuError.CheckNvrtc(nvrtcGetPTXSize(program, &size), "reading the PTX size");
            var code = new byte[(int)size];
            fixed (byte* p = code)
                if (cubin) CuError.CheckNvrtc(nvrtcGetCUBIN(program, p), "reading the cubin");
                else CuError.CheckNvrtc(nvrtcGetPTX(program, p), "reading the PTX");
            log = Log(program);
            return code;
        }
        finally { nvrtcDestroyProgram(&program); }
    }

    string Log(nint program)
    {
        nuint size;
        if (nvrtcGetProgramLogSize(program, &size) != 0 || size == 0) return "(NVRTC gave no log)";
        var log = new byte[(int)size];
        fixed (byte* l = log) if (nvrtcGetProgramLog(program, l) != 0) return "(NVRTC's log could not be read)";
        return Encoding.UTF8.GetString(log).TrimEnd('\0').Trim();
    }

    /// <summary>NVRTC names lines as "label.cu(LINE): error: ...".</summary>
    [GeneratedRegex(@"\((\d+)\): ")]
    private static partial Regex LineRef();

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
