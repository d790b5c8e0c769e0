using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace Dsl.Runtime.OpenCl;

/// <summary>Builds generated source for one device, keeping built binaries on disk (under $XDG_CACHE_HOME/dsl/opencl,
/// else ~/.cache/dsl/opencl) keyed by a hash of the source, the build options, the device and its driver version, so a
/// second run skips the driver's compiler. A failed build saves the source and reports the log beside the lines it names.</summary>
sealed unsafe partial class ProgramCache(nint context, OpenClDeviceInfo device)
{
    const string Options = "-cl-std=CL1.2";

    /// <summary>A built program for <paramref name="source"/>; <paramref name="label"/> names it in messages and file names.</summary>
    public nint Build(string source, string label)
    {
        var key = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(
            string.Join("\n", source, Options, device.Platform, device.PlatformVersion, device.Name, device.Version, device.DriverVersion)))).ToLowerInvariant();
        var cached = Path.Combine(KernelSources.Root, "opencl", key + ".bin");
        if (File.Exists(cached) && FromBinary(File.ReadAllBytes(cached)) is { } program) return program;
        program = FromSource(source, label, key);
        Save(program, cached);
        return program;
    }

    nint? FromBinary(byte[] binary)
    {
        nint dev = device.DeviceId;
        nuint length = (nuint)binary.Length;
        int status, error;
        fixed (byte* b = binary)
        {
            var program = Native.clCreateProgramWithBinary(context, 1, &dev, &length, &b, &status, &error);
            if (error != 0 || status != 0) return null;
            fixed (byte* o = Encoding.ASCII.GetBytes(Options + "\0"))
                if (Native.clBuildProgram(program, 1, &dev, o, 0, 0) == 0) return program;
            // A stale or foreign binary: build from source instead.
            Native.clReleaseProgram(program);
            return null;
        }
    }

    nint FromSource(string source, string label, string key)
    {
        nint dev = device.DeviceId;
        var bytes = Encoding.UTF8.GetBytes(source);
        int error;
        nint program;
        fixed (byte* s = bytes)
        {
            byte* p = s;
            nuint length = (nuint)bytes.Length;
            program = Native.clCreateProgramWithSource(context, 1, &p, &length, &error);
        }
        ClError.Check(error, $"creating the program of {label}");
        int status;
        fixed (byte* o = Encoding.ASCII.GetBytes(Options + "\0")) status = Native.clBuildProgram(program, 1, &dev, o, 0, 0);
        if (status == 0) return program;
        var id = device.DeviceId;
        var log = Native.String((sz, v, r) => Native.clGetProgramBuildInfo(program, id, Native.ProgramBuildLog, sz, v, r), "reading the build log");
        Native.clReleaseProgram(program);
        var saved = KernelSources.SaveFailed(source, label, key, ".cl");
        throw new DeviceException(
            $"OpenCL: building the kernels of {label} failed on {device.Name} ({ClError.Name(status)}); the generated source is in {saved}\n" +
            KernelSources.Annotate(log, source, LineRef()));
    }

    [GeneratedRegex(@":(\d+):\d+:")]
    private static partial Regex LineRef();

    /// <summary>Writes the program's binary to the cache through a temporary file, so a reader never sees half of one;
    /// a cache that cannot be written only costs the next run a build.</summary>
    void Save(nint program, string path)
    {
        nuint size;
        if (Native.clGetProgramInfo(program, Native.ProgramBinarySizes, (nuint)sizeof(nuint), &size, null) != 0 || size == 0) return;
        var binary = new byte[(int)size];
        fixed (byte* b = binary)
        {
            byte* p = b;
            if (Native.clGetProgramInfo(program, Native.ProgramBinaries, (nuint)sizeof(nint), &p, null) != 0) return;
        }
        KernelSources.Store(path, binary);
    }
}
