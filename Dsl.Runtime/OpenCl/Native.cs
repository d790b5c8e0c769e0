using System.Runtime.InteropServices;

namespace Dsl.Runtime.OpenCl;

/// <summary>The OpenCL 1.2 entry points dsl uses, from the ICD loader (libOpenCL.so.1), which dispatches to
/// every installed driver. Handles are opaque pointers; sizes are size_t (nuint).</summary>
static unsafe partial class Native
{
    const string Lib = "libOpenCL.so.1";

    // Info and flag values from CL/cl.h.
    public const uint PlatformVersion = 0x0901, PlatformName = 0x0902;
    public const ulong DeviceTypeAll = 0xFFFFFFFF;
    public const ulong DeviceTypeCpu = 2, DeviceTypeGpu = 4;
    public const uint DeviceType = 0x1000, DeviceMaxComputeUnits = 0x1002, DeviceMaxWorkGroupSize = 0x1004,
        DevicePreferredVectorWidthFloat = 0x100A, DeviceMaxMemAllocSize = 0x1010, DeviceGlobalMemSize = 0x101F,
        DeviceLocalMemSize = 0x1023, DeviceName = 0x102B,
        DeviceVendor = 0x102C, DriverVersion = 0x102D, DeviceVersion = 0x102F;
    public const nint ContextPlatform = 0x1084;
    public const ulong MemReadWrite = 1;
    public const uint ProgramBinarySizes = 0x1165, ProgramBinaries = 0x1166, ProgramBuildLog = 0x1183;

    [LibraryImport(Lib)] public static partial int clGetPlatformIDs(uint count, nint* platforms, uint* found);
    [LibraryImport(Lib)] public static partial int clGetPlatformInfo(nint platform, uint name, nuint size, void* value, nuint* sizeRet);
    [LibraryImport(Lib)] public static partial int clGetDeviceIDs(nint platform, ulong type, uint count, nint* devices, uint* found);
    [LibraryImport(Lib)] public static partial int clGetDeviceInfo(nint device, uint name, nuint size, void* value, nuint* sizeRet);
    [LibraryImport(Lib)] public static partial nint clCreateContext(nint* properties, uint count, nint* devices, nint notify, nint user, int* error);
    [LibraryImport(Lib)] public static partial int clReleaseContext(nint context);
    [LibraryImport(Lib)] public static partial nint clCreateCommandQueue(nint context, nint device, ulong properties, int* error);
    [LibraryImport(Lib)] public static partial int clReleaseCommandQueue(nint queue);
    [LibraryImport(Lib)] public static partial int clFinish(nint queue);
    [LibraryImport(Lib)] public static partial nint clCreateBuffer(nint context, ulong flags, nuint size, void* host, int* error);
    [LibraryImport(Lib)] public static partial int clReleaseMemObject(nint buffer);
    [LibraryImport(Lib)] public static partial int clEnqueueWriteBuffer(nint queue, nint buffer, uint blocking, nuint offset, nuint size, void* source,
        uint waits, nint* waitList, nint* evt);
    [LibraryImport(Lib)] public static partial int clEnqueueReadBuffer(nint queue, nint buffer, uint blocking, nuint offset, nuint size, void* destination,
        uint waits, nint* waitList, nint* evt);
    [LibraryImport(Lib)] public static partial int clEnqueueFillBuffer(nint queue, nint buffer, void* pattern, nuint patternSize, nuint offset, nuint size,
        uint waits, nint* waitList, nint* evt);
    [LibraryImport(Lib)] public static partial nint clCreateProgramWithSource(nint context, uint count, byte** sources, nuint* lengths, int* error);
    [LibraryImport(Lib)] public static partial nint clCreateProgramWithBinary(nint context, uint count, nint* devices, nuint* lengths, byte** binaries,
        int* status, int* error);
    [LibraryImport(Lib)] public static partial int clBuildProgram(nint program, uint count, nint* devices, byte* options, nint notify, nint user);
    [LibraryImport(Lib)] public static partial int clGetProgramBuildInfo(nint program, nint device, uint name, nuint size, void* value, nuint* sizeRet);
    [LibraryImport(Lib)] public static partial int clGetProgramInfo(nint program, uint name, nuint size, void* value, nuint* sizeRet);
    [LibraryImport(Lib)] public static partial int clReleaseProgram(nint program);
    [LibraryImport(Lib)] public static partial nint clCreateKernel(nint program, byte* name, int* error);
    [LibraryImport(Lib)] public static partial int clReleaseKernel(nint kernel);
    [LibraryImport(Lib)] public static partial int clSetKernelArg(nint kernel, uint index, nuint size, void* value);
    [LibraryImport(Lib)] public static partial int clEnqueueNDRangeKernel(nint queue, nint kernel, uint dims, nuint* offset, nuint* global, nuint* local,
        uint waits, nint* waitList, nint* evt);

    /// <summary>A string-valued info query (names, versions, build logs) through a two-call size-then-value protocol.</summary>
    public delegate int InfoQuery(nuint size, void* value, nuint* sizeRet);

    public static string String(InfoQuery query, string what)
    {
        nuint size;
        ClError.Check(query(0, null, &size), what);
        var bytes = new byte[(int)size];
        fixed (byte* p = bytes) ClError.Check(query(size, p, null), what);
        return System.Text.Encoding.UTF8.GetString(bytes).TrimEnd('\0').Trim();
    }

    public static T Value<T>(InfoQuery query, string what) where T : unmanaged
    {
        T value;
        ClError.Check(query((nuint)sizeof(T), &value, null), what);
        return value;
    }
}
