namespace Dsl.Runtime.Cuda;

/// <summary>CUDA driver results (CUresult) and NVRTC results (nvrtcResult) by the names the headers give them, and the
/// checks every call goes through.</summary>
public static class CuError
{
    public const int OutOfMemory = 2;

    static readonly Dictionary<int, string> DriverNames = new()
    {
        [0] = "CUDA_SUCCESS", [1] = "CUDA_ERROR_INVALID_VALUE", [2] = "CUDA_ERROR_OUT_OF_MEMORY", [3] = "CUDA_ERROR_NOT_INITIALIZED",
        [4] = "CUDA_ERROR_DEINITIALIZED", [5] = "CUDA_ERROR_PROFILER_DISABLED", [34] = "CUDA_ERROR_STUB_LIBRARY",
        [46] = "CUDA_ERROR_DEVICE_UNAVAILABLE", [100] = "CUDA_ERROR_NO_DEVICE", [101] = "CUDA_ERROR_INVALID_DEVICE",
        [102] = "CUDA_ERROR_DEVICE_NOT_LICENSED", [200] = "CUDA_ERROR_INVALID_IMAGE", [201] = "CUDA_ERROR_INVALID_CONTEXT",
        [205] = "CUDA_ERROR_MAP_FAILED", [209] = "CUDA_ERROR_NO_BINARY_FOR_GPU", [214] = "CUDA_ERROR_ECC_UNCORRECTABLE",
        [218] = "CUDA_ERROR_INVALID_PTX", [221] = "CUDA_ERROR_JIT_COMPILER_NOT_FOUND", [222] = "CUDA_ERROR_UNSUPPORTED_PTX_VERSION",
        [223] = "CUDA_ERROR_JIT_COMPILATION_DISABLED", [300] = "CUDA_ERROR_INVALID_SOURCE", [301] = "CUDA_ERROR_FILE_NOT_FOUND",
        [304] = "CUDA_ERROR_OPERATING_SYSTEM", [400] = "CUDA_ERROR_INVALID_HANDLE", [500] = "CUDA_ERROR_NOT_FOUND",
        [600] = "CUDA_ERROR_NOT_READY", [700] = "CUDA_ERROR_ILLEGAL_ADDRESS", [701] = "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES",
        [702] = "CUDA_ERROR_LAUNCH_TIMEOUT", [709] = "CUDA_ERROR_CONTEXT_IS_DESTROYED", [710] = "CUDA_ERROR_ASSERT",
        [715] = "CUDA_ERROR_ILLEGAL_INSTRUCTION", [716] = "CUDA_ERROR_MISALIGNED_ADDRESS", [719] = "CUDA_ERROR_LAUNCH_FAILED",
        [802] = "CUDA_ERROR_SYSTEM_NOT_READY", [803] = "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH",
        [804] = "CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE", [999] = "CUDA_ERROR_UNKNOWN",
    };

    static readonly string[] NvrtcNames =
    [
        "NVRTC_SUCCESS", "NVRTC_ERROR_OUT_OF_MEMORY", "NVRTC_ERROR_PROGRAM_CREATION_FAILURE", "NVRTC_ERROR_INVALID_INPUT",
        "NVRTC_ERROR_INVALID_PROGRAM", "NVRTC_ERROR_INVALID_OPTION", "NVRTC_ERROR_COMPILATION", "NVRTC_ERROR_BUILTIN_OPERATION_FAILURE",
        "NVRTC_ERROR_NO_NAME_EXPRESSIONS_AFTER_COMPILATION", "NVRTC_ERROR_NO_LOWERED_NAMES_BEFORE_COMPILATION",
        "NVRTC_ERROR_NAME_EXPRESSION_NOT_VALID", "NVRTC_ERROR_INTERNAL_ERROR", "NVRTC_ERROR_TIME_FILE_WRITE_FAILED",
    ];

    public static string Name(int result) => DriverNames.TryGetValue(result, out var n) ? n : $"CUresult {result}";

    public static string NvrtcName(int result) => result >= 0 && result < NvrtcNames.Length ? NvrtcNames[result] : $"nvrtcResult {result}";

    /// <summary>What to do about results a user can act on.</summary>
    static string Hint(int result) => result switch
    {
        2 => "; the device is out of memory: lower --batch, or use a device with more memory",
        34 => "; this libcuda.so.1 is the toolkit's link stub, not the NVIDIA driver's library",
        100 => "; the driver sees no CUDA device (check nvidia-smi and CUDA_VISIBLE_DEVICES)",
        222 => "; NVRTC is newer than the driver: update the NVIDIA driver or use an older CUDA toolkit's NVRTC",
        803 => "; the kernel module and libcuda.so.1 are different driver versions",
        _ => "",
    };

    /// <summary>Throws a <see cref="DeviceException"/> naming the driver result and what was being done.</summary>
    public static void Check(int result, string what)
    {
        if (result != 0) throw new DeviceException($"CUDA: {what} failed with {Name(result)}{Hint(result)}");
    }

    public static void CheckNvrtc(int result, string what)
    {
        if (result != 0) throw new DeviceException($"NVRTC: {what} failed with {NvrtcName(result)}");
    }
}
