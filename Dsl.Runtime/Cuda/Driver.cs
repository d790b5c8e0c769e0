using System.Runtime.InteropServices;

namespace Dsl.Runtime.Cuda;

/// <summary>The CUDA driver API entry points dsl uses, resolved from a loaded libcuda.so.1 (the _v2 ones where the
/// header maps the plain name to them). Handles are opaque pointers; CUdeviceptr is 64-bit; sizes are size_t.</summary>
sealed unsafe class Driver
{
    // CUdevice_attribute values from cuda.h.
    public const int AttrMaxThreadsPerBlock = 1, AttrMaxSharedMemoryPerBlock = 8, AttrWarpSize = 10, AttrMultiprocessorCount = 16,
        AttrComputeCapabilityMajor = 75, AttrComputeCapabilityMinor = 76, AttrMaxSharedMemoryPerBlockOptIn = 97;

    // CUfunction_attribute: the dynamic shared memory a kernel may be launched with (above 48 KiB only when set).
    public const int FuncAttrMaxDynamicSharedSizeBytes = 8;

    public readonly delegate* unmanaged<uint, int> cuInit;
    public readonly delegate* unmanaged<int*, int> cuDriverGetVersion;
    public readonly delegate* unmanaged<int*, int> cuDeviceGetCount;
    public readonly delegate* unmanaged<int*, int, int> cuDeviceGet;
    public readonly delegate* unmanaged<byte*, int, int, int> cuDeviceGetName;
    public readonly delegate* unmanaged<int*, int, int, int> cuDeviceGetAttribute;
    public readonly delegate* unmanaged<nuint*, int, int> cuDeviceTotalMem;
    public readonly delegate* unmanaged<nint*, int, int> cuDevicePrimaryCtxRetain;
    public readonly delegate* unmanaged<int, int> cuDevicePrimaryCtxRelease;
    public readonly delegate* unmanaged<nint, int> cuCtxSetCurrent;
    public readonly delegate* unmanaged<nint*, uint, int> cuStreamCreate;
    public readonly delegate* unmanaged<nint, int> cuStreamDestroy;
    public readonly delegate* unmanaged<nint, int> cuStreamSynchronize;
    public readonly delegate* unmanaged<nint*, uint, int> cuEventCreate;
    public readonly delegate* unmanaged<nint, nint, int> cuEventRecord;
    public readonly delegate* unmanaged<nint, int> cuEventSynchronize;
    public readonly delegate* unmanaged<float*, nint, nint, int> cuEventElapsedTime;
    public readonly delegate* unmanaged<nint, int> cuEventDestroy;
    public readonly delegate* unmanaged<nuint*, nuint*, int> cuMemGetInfo;
    public readonly delegate* unmanaged<ulong*, nuint, int> cuMemAlloc;
    public readonly delegate* unmanaged<ulong, int> cuMemFree;
    public readonly delegate* unmanaged<ulong, void*, nuint, nint, int> cuMemcpyHtoDAsync;
    public readonly delegate* unmanaged<void*, ulong, nuint, nint, int> cuMemcpyDtoHAsync;
    public readonly delegate* unmanaged<ulong, uint, nuint, nint, int> cuMemsetD32Async;
    public readonly delegate* unmanaged<nint*, void*, int> cuModuleLoadData;
    public readonly delegate* unmanaged<nint, int> cuModuleUnload;
    public readonly delegate* unmanaged<nint*, nint, byte*, int> cuModuleGetFunction;
    public readonly delegate* unmanaged<nint, int, int, int> cuFuncSetAttribute;
    public readonly delegate* unmanaged<nint, uint, uint, uint, uint, uint, uint, uint, nint, void**, void**, int> cuLaunchKernel;

    Driver(nint lib)
    {
        cuInit = (delegate* unmanaged<uint, int>)Export(lib, "cuInit");
        cuDriverGetVersion = (delegate* unmanaged<int*, int>)Export(lib, "cuDriverGetVersion");
        cuDeviceGetCount = (delegate* unmanaged<int*, int>)Export(lib, "cuDeviceGetCount");
        cuDeviceGet = (delegate* unmanaged<int*, int, int>)Export(lib, "cuDeviceGet");
        cuDeviceGetName = (delegate* unmanaged<byte*, int, int, int>)Export(lib, "cuDeviceGetName");
        cuDeviceGetAttribute = (delegate* unmanaged<int*, int, int, int>)Export(lib, "cuDeviceGetAttribute");
        cuDeviceTotalMem = (delegate* unmanaged<nuint*, int, int>)Export(lib, "cuDeviceTotalMem_v2");
        cuDevicePrimaryCtxRetain = (delegate* unmanaged<nint*, int, int>)Export(lib, "cuDevicePrimaryCtxRetain");
        cuDevicePrimaryCtxRelease = (delegate* unmanaged<int, int>)Export(lib, "cuDevicePrimaryCtxRelease_v2");
        cuCtxSetCurrent = (delegate* unmanaged<nint, int>)Export(lib, "cuCtxSetCurrent");
        cuStreamCreate = (delegate* unmanaged<nint*, uint, int>)Export(lib, "cuStreamCreate");
        cuStreamDestroy = (delegate* unmanaged<nint, int>)Export(lib, "cuStreamDestroy_v2");
        cuStreamSynchronize = (delegate* unmanaged<nint, int>)Export(lib, "cuStreamSynchronize");
        cuEventCreate = (delegate* unmanaged<nint*, uint, int>)Export(lib, "cuEventCreate");
        cuEventRecord = (delegate* unmanaged<nint, nint, int>)Export(lib, "cuEventRecord");
        cuEventSynchronize = (delegate* unmanaged<nint, int>)Export(lib, "cuEventSynchronize");
        cuEventElapsedTime = (delegate* unmanaged<float*, nint, nint, int>)Export(lib, "cuEventElapsedTime");
        cuEventDestroy = (delegate* unmanaged<nint, int>)Export(lib, "cuEventDestroy_v2");
        cuMemGetInfo = (delegate* unmanaged<nuint*, nuint*, int>)Export(lib, "cuMemGetInfo_v2");
        cuMemAlloc = (delegate* unmanaged<ulong*, nuint, int>)Export(lib, "cuMemAlloc_v2");
        cuMemFree = (delegate* unmanaged<ulong, int>)Export(lib, "cuMemFree_v2");
        cuMemcpyHtoDAsync = (delegate* unmanaged<ulong, void*, nuint, nint, int>)Export(lib, "cuMemcpyHtoDAsync_v2");
        cuMemcpyDtoHAsync = (delegate* unmanaged<void*, ulong, nuint, nint, int>)Export(lib, "cuMemcpyDtoHAsync_v2");
        cuMemsetD32Async = (delegate* unmanaged<ulong, uint, nuint, nint, int>)Export(lib, "cuMemsetD32Async");
        cuModuleLoadData = (delegate* unmanaged<nint*, void*, int>)Export(lib, "cuModuleLoadData");
        cuModuleUnload = (delegate* unmanaged<nint, int>)Export(lib, "cuModuleUnload");
        cuModuleGetFunction = (delegate* unmanaged<nint*, nint, byte*, int>)Export(lib, "cuModuleGetFunction");
        cuFuncSetAttribute = (delegate* unmanaged<nint, int, int, int>)Export(lib, "cuFuncSetAttribute");
        cuLaunchKernel = (delegate* unmanaged<nint, uint, uint, uint, uint, uint, uint, uint, nint, void**, void**, int>)Export(lib, "cuLaunchKernel");
    }

    /// <summary>The driver, loaded once per process; null with <paramref name="problem"/> saying why (every path tried,
    /// a missing entry point) when there is none.</summary>
    public static Driver? Get(out NativeLoad load, out string? problem)
    {
        lock (Gate)
        {
            if (cached is null)
            {
                var l = Libraries.Load(Libraries.Driver);
                Driver? d = null;
                string? why = null;
                if (!l.Found) why = $"no CUDA driver: {l.Describe()}";
                else
                    try { d = new Driver(l.Handle); }
                    catch (EntryPointNotFoundException e) { why = $"{l.Path} is too old a CUDA driver: {e.Message}"; }
                cached = (d, l, why);
            }
            (var driver, load, problem) = cached.Value;
            return driver;
        }
    }

    static readonly object Gate = new();
    static (Driver?, NativeLoad, string?)? cached;

    static nint Export(nint lib, string name) =>
        NativeLibrary.TryGetExport(lib, name, out var f) ? f : throw new EntryPointNotFoundException($"it lacks {name}");
}
