using System.Runtime.InteropServices;
using Dsl.Runtime.Cuda;

namespace Dsl.Runtime.Distributed;

/// <summary>An NCCL communicator's identity: the 128 bytes (NCCL_UNIQUE_ID_BYTES) process 0 makes and every process passes
/// to ncclCommInitRank, by value.</summary>
[StructLayout(LayoutKind.Sequential, Size = Nccl.UniqueIdBytes)]
unsafe struct NcclUniqueId
{
    public fixed byte Internal[Nccl.UniqueIdBytes];
}

/// <summary>The NCCL entry points dsl uses, resolved from libnccl.so.2 at run time when a job of several processes trains
/// on CUDA; never required (without it the gradients go through host memory). The signatures follow NVIDIA's nccl.h
/// (src/nccl.h.in of github.com/NVIDIA/nccl); a test compares them with a copy of those declarations. Each field is the C
/// function of its name with "nccl" before it.</summary>
sealed unsafe class Nccl
{
    public const string Library = "libnccl.so.2";
    public const int UniqueIdBytes = 128;
    /// <summary>ncclResult_t's ncclSuccess, ncclDataType_t's ncclFloat32, ncclRedOp_t's ncclAvg.</summary>
    public const int Success = 0, Float32 = 7, Avg = 4;
    /// <summary>ncclAvg came with NCCL 2.10: version code 2 * 10000 + 10 * 100 (NCCL_VERSION in nccl.h).</summary>
    public const int AvgSince = 21000;

    public readonly delegate* unmanaged<int*, int> GetVersion;
    public readonly delegate* unmanaged<NcclUniqueId*, int> GetUniqueId;
    public readonly delegate* unmanaged<nint*, int, NcclUniqueId, int, int> CommInitRank;
    public readonly delegate* unmanaged<nint, int> CommDestroy;
    public readonly delegate* unmanaged<void*, void*, nuint, int, int, nint, nint, int> AllReduce;
    public readonly delegate* unmanaged<int> GroupStart;
    public readonly delegate* unmanaged<int> GroupEnd;
    public readonly delegate* unmanaged<int, byte*> GetErrorString;

    /// <summary>Where the library was loaded from, and its version code (NCCL_VERSION_CODE: 22105 is 2.21.5).</summary>
    public string Path { get; }
    public int Version { get; }

    Nccl(nint lib, string path)
    {
        GetVersion = (delegate* unmanaged<int*, int>)Export(lib, "ncclGetVersion");
        GetUniqueId = (delegate* unmanaged<NcclUniqueId*, int>)Export(lib, "ncclGetUniqueId");
        CommInitRank = (delegate* unmanaged<nint*, int, NcclUniqueId, int, int>)Export(lib, "ncclCommInitRank");
        CommDestroy = (delegate* unmanaged<nint, int>)Export(lib, "ncclCommDestroy");
        AllReduce = (delegate* unmanaged<void*, void*, nuint, int, int, nint, nint, int>)Export(lib, "ncclAllReduce");
        GroupStart = (delegate* unmanaged<int>)Export(lib, "ncclGroupStart");
        GroupEnd = (delegate* unmanaged<int>)Export(lib, "ncclGroupEnd");
        GetErrorString = (delegate* unmanaged<int, byte*>)Export(lib, "ncclGetErrorString");
        Path = path;
        int version;
        Check(GetVersion(&version), "to say its version (ncclGetVersion)");
        Version = version;
    }

    /// <summary>"2.21.5" from a version code (NCCL_VERSION: X * 1000 + Y * 100 + Z up to 2.8, X * 10000 + Y * 100 + Z after).</summary>
    public static string VersionText(int code) => code < 10000 ? $"{code / 1000}.{code / 100 % 10}.{code % 100}" : $"{code / 10000}.{code / 100 % 100}.{code % 100}";

    static nint Export(nint lib, string name) =>
        NativeLibrary.TryGetExport(lib, name, out var p) ? p : throw new DistributedException($"{Library} has no {name}: it is not NCCL 2");

    /// <summary>NCCL where libnccl.so.2 loads and can average (2.10 or later); else null and why not.</summary>
    public static Nccl? Load(out string? problem)
    {
        var load = Libraries.Load(Library);
        if (!load.Found)
        {
            problem = load.Describe();
            return null;
        }
        try
        {
            var nccl = new Nccl(load.Handle, load.Path!);
            problem = nccl.Version >= AvgSince ? null
                : $"{load.Path} is NCCL {VersionText(nccl.Version)}; dsl averages with ncclAvg, which needs NCCL 2.10 or later";
            return problem is null ? nccl : null;
        }
        catch (DistributedException e)
        {
            problem = e.Message;
            return null;
        }
    }

    /// <summary>Throws with NCCL's own words for a failed call.</summary>
    public void Check(int code, string what)
    {
        if (code != Success)
            throw new DistributedException($"NCCL failed {what}: {Marshal.PtrToStringUTF8((nint)GetErrorString(code)) ?? $"error {code}"}");
    }
}
