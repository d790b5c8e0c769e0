using Dsl.Core;

namespace Dsl.Runtime.OpenCl;

/// <summary>One OpenCL device as its driver describes it. <see cref="Index"/> counts devices over all platforms,
/// in the order `dsl devices` lists them (`--device opencl:INDEX`).</summary>
public sealed record OpenClDeviceInfo(
    int Index, string Platform, string PlatformVersion, string Name, string Vendor, TargetKind Kind, int ComputeUnits,
    long GlobalMemory, long MaxAllocation, long LocalMemory, int MaxWorkGroupSize, int VectorWidth, string DriverVersion, string Version)
{
    internal nint PlatformId { get; init; }
    internal nint DeviceId { get; init; }

    public string KindName => Kind.IsGpuTarget ? "GPU" : Kind.IsCpuTarget ? "CPU" : "accelerator";

    /// <summary>What the compiler needs to know to render kernels for this device.</summary>
    public Target Target => new(Kind, MaxWorkGroupSize, LocalMemory, VectorWidth, SubGroupWidth, false, false, LocalMemory);

    // Lock-step width by vendor: NVIDIA warps are 32 wide, AMD GPU wavefronts 64; elsewhere unknown.
    int SubGroupWidth =>
        Vendor.Contains("NVIDIA", StringComparison.OrdinalIgnoreCase) ? 32 :
        Kind.IsGpuTarget && (Vendor.Contains("AMD", StringComparison.OrdinalIgnoreCase) || Vendor.Contains("Advanced Micro", StringComparison.OrdinalIgnoreCase)) ? 64 : 1;
}

/// <summary>Finds every OpenCL platform and device through the ICD loader. A missing loader or driver is an
/// answer (no devices, and why), not an exception.</summary>
public static unsafe class Platforms
{
    public const string InstallHint = "install an OpenCL driver and the ICD loader, e.g. `apt-get install ocl-icd-libopencl1 pocl-opencl-icd` (PoCL runs OpenCL on the CPU)";

    /// <summary>Every device of every platform; empty, with <paramref name="problem"/> saying why, when there is none.</summary>
    public static IReadOnlyList<OpenClDeviceInfo> List(out string? problem)
    {
        problem = null;
        uint count;
        int status;
        try { status = Native.clGetPlatformIDs(0, null, &count); }
        catch (DllNotFoundException) { problem = $"no OpenCL ICD loader (libOpenCL.so.1) on this system; {InstallHint}"; return []; }
        if (status == -1001 || (status == 0 && count == 0)) { problem = $"the OpenCL ICD loader found no driver; {InstallHint}"; return []; }
        ClError.Check(status, "listing platforms");
        var platforms = new nint[count];
        fixed (nint* p = platforms) ClError.Check(Native.clGetPlatformIDs(count, p, null), "listing platforms");
        var found = new List<OpenClDeviceInfo>();
        foreach (var platform in platforms)
        {
            uint n;
            if (Native.clGetDeviceIDs(platform, Native.DeviceTypeAll, 0, null, &n) != 0 || n == 0) continue;
            var devices = new nint[n];
            fixed (nint* d = devices) ClError.Check(Native.clGetDeviceIDs(platform, Native.DeviceTypeAll, n, d, null), "listing devices");
            foreach (var device in devices) found.Add(Describe(found.Count, platform, device));
        }
        if (found.Count == 0) problem = $"the OpenCL drivers installed report no device; {InstallHint}";
        return found;
    }

    static OpenClDeviceInfo Describe(int index, nint platform, nint device)
    {
        string P(uint what) => Native.String((s, v, r) => Native.clGetPlatformInfo(platform, what, s, v, r), "reading platform info");
        Native.InfoQuery D(uint what) => (s, v, r) => Native.clGetDeviceInfo(device, what, s, v, r);
        string S(uint what) => Native.String(D(what), "reading device info");
        var type = Native.Value<ulong>(D(Native.DeviceType), "reading device info");
        var kind = (type & Native.DeviceTypeGpu) != 0 ? TargetKind.GpuTarget : (type & Native.DeviceTypeCpu) != 0 ? TargetKind.CpuTarget : TargetKind.AcceleratorTarget;
        return new OpenClDeviceInfo(
            index, P(Native.PlatformName), P(Native.PlatformVersion), S(Native.DeviceName), S(Native.DeviceVendor), kind,
            (int)Native.Value<uint>(D(Native.DeviceMaxComputeUnits), "reading device info"),
            (long)Native.Value<ulong>(D(Native.DeviceGlobalMemSize), "reading device info"),
            (long)Native.Value<ulong>(D(Native.DeviceMaxMemAllocSize), "reading device info"),
            (long)Native.Value<ulong>(D(Native.DeviceLocalMemSize), "reading device info"),
            (int)Math.Min(int.MaxValue, (ulong)Native.Value<nuint>(D(Native.DeviceMaxWorkGroupSize), "reading device info")),
            (int)Native.Value<uint>(D(Native.DevicePreferredVectorWidthFloat), "reading device info"),
            S(Native.DriverVersion), S(Native.DeviceVersion))
        { PlatformId = platform, DeviceId = device };
    }
}
