using System.Text;
using Dsl.Core;

namespace Dsl.Runtime.Cuda;

/// <summary>One CUDA device as the driver describes it; <see cref="Ordinal"/> is the driver's device number.</summary>
public sealed record CudaDeviceInfo(
    int Ordinal, string Name, int Major, int Minor, int Multiprocessors, long GlobalMemory, int MaxThreadsPerBlock,
    long SharedMemoryPerBlock, long SharedMemoryPerBlockOptIn, int WarpSize, int DriverVersion)
{
    internal int Handle { get; init; }

    public string ComputeCapability => $"{Major}.{Minor}";

    /// <summary>TF32 tensor cores (mma.sync): compute capability 8.0 and above.</summary>
    public bool HasTensorCores => Major >= 8;

    /// <summary>cp.async and opt-in shared memory beyond 48 KiB per block: compute capability 8.0 and above.</summary>
    public bool HasAsyncCopy => Major >= 8;

    /// <summary>What the compiler needs to render kernels for this device; float4 is CUDA's widest shared vector type.</summary>
    public Target Target => new(TargetKind.GpuTarget, MaxThreadsPerBlock, SharedMemoryPerBlock, 4, WarpSize, HasTensorCores,
        HasAsyncCopy, Math.Max(SharedMemoryPerBlock, SharedMemoryPerBlockOptIn));
}

/// <summary>Finds the CUDA devices through the driver API. A missing driver, a failing cuInit or no device is an answer
/// (no devices, and why: every path tried, or the result's name), not an exception.</summary>
public static unsafe class Gpus
{
    /// <summary>Every CUDA device; empty, with <paramref name="problem"/> saying why, when there is none.</summary>
    public static IReadOnlyList<CudaDeviceInfo> List(out string? problem)
    {
        if (Driver.Get(out var load, out problem) is not { } cu) return [];
        int status = cu.cuInit(0);
        if (status != 0) { problem = $"cuInit failed with {CuError.Name(status)} ({load.Path})"; return []; }
        int count, version;
        CuError.Check(cu.cuDriverGetVersion(&version), "reading the driver version");
        CuError.Check(cu.cuDeviceGetCount(&count), "counting devices");
        if (count == 0) { problem = $"the CUDA driver ({load.Path}) reports no device"; return []; }
        var found = new List<CudaDeviceInfo>();
        for (int i = 0; i < count; i++)
        {
            int handle;
            CuError.Check(cu.cuDeviceGet(&handle, i), $"opening device {i}");
            int dev = handle;
            int Attr(int a) { int v; CuError.Check(cu.cuDeviceGetAttribute(&v, a, dev), $"reading attribute {a} of device {i}"); return v; }
            var name = new byte[256];
            fixed (byte* n = name) CuError.Check(cu.cuDeviceGetName(n, name.Length, dev), $"reading the name of device {i}");
            nuint total;
            CuError.Check(cu.cuDeviceTotalMem(&total, dev), $"reading the memory of device {i}");
            found.Add(new CudaDeviceInfo(i, Encoding.UTF8.GetString(name).TrimEnd('\0'), Attr(Driver.AttrComputeCapabilityMajor),
                Attr(Driver.AttrComputeCapabilityMinor), Attr(Driver.AttrMultiprocessorCount), (long)total, Attr(Driver.AttrMaxThreadsPerBlock),
                Attr(Driver.AttrMaxSharedMemoryPerBlock), Attr(Driver.AttrMaxSharedMemoryPerBlockOptIn), Attr(Driver.AttrWarpSize), version) { Handle = dev });
        }
        return found;
    }

    /// <summary>"12.4" from the driver's 12040.</summary>
    public static string VersionText(int version) => $"{version / 1000}.{version % 1000 / 10}";
}
