using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using Dsl.Runtime.Distributed;
using Xunit;

namespace Dsl.Runtime.Tests.Nccl;

/// <summary>NCCL cannot run here (no GPU, not packaged), so its binding is held to NVIDIA's header instead: every entry
/// point's parameter and return types, the enum values and the unique id's size against nccl.h.excerpt, a copy of the
/// declarations in github.com/NVIDIA/nccl's src/nccl.h.in. A changed signature, value or size fails here.</summary>
public class NcclBindingTests
{
    static readonly string Header = File.ReadAllText(Path.Combine(Networks.RepoRoot, "tests", "Dsl.Runtime.Tests", "Nccl", "nccl.h.excerpt"));

    static readonly Type Binding = typeof(Distributed.Nccl);
    static readonly Type UniqueId = Binding.Assembly.GetType("Dsl.Runtime.Distributed.NcclUniqueId")!;

    /// <summary>The C types of nccl.h as the binding must pass them on x86-64 Linux: enums as int, handles and streams as
    /// pointers, size_t as nuint, the unique id by value as its own 128-byte struct.</summary>
    static Type Clr(string c) => c.Replace("const ", "") switch
    {
        "ncclResult_t" or "ncclDataType_t" or "ncclRedOp_t" or "int" => typeof(int),
        "ncclComm_t" or "cudaStream_t" => typeof(nint),
        "size_t" => typeof(nuint),
        "ncclUniqueId" => UniqueId,
        "char*" => typeof(byte).MakePointerType(),
        "void*" => typeof(void).MakePointerType(),
        var t when t.EndsWith('*') => Clr(t[..^1]).MakePointerType(),
        var t => throw new InvalidOperationException($"nccl.h.excerpt: no C# type for {t}"),
    };

    /// <summary>The type of one declared parameter: its words less the name, stars kept ("int *version" is int*).</summary>
    static string ParameterType(string declaration)
    {
        var words = declaration.Replace("*", " * ").Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return string.Join(" ", words[..^1]).Replace(" *", "*");
    }

    static Dictionary<string, (string Return, string[] Parameters)> Prototypes() =>
        Regex.Matches(Header, @"^(ncclResult_t|const char\*)\s+(nccl\w+)\(([^)]*)\);", RegexOptions.Multiline)
            .ToDictionary(m => m.Groups[2].Value, m => (m.Groups[1].Value,
                m.Groups[3].Value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(p => ParameterType(Regex.Replace(p, @"\s+", " "))).ToArray()));

    static IEnumerable<FieldInfo> EntryPoints() =>
        Binding.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic).Where(f => f.FieldType.IsFunctionPointer);

    [Fact]
    public void EveryEntryPointHasTheHeadersSignature()
    {
        var declared = Prototypes();
        Assert.Equal(declared.Keys.Order(), EntryPoints().Select(f => "nccl" + f.Name).Order());
        foreach (var field in EntryPoints())
        {
            var (ret, parameters) = declared["nccl" + field.Name];
            var pointer = field.FieldType;
            Assert.True(pointer.IsUnmanagedFunctionPointer, $"{field.Name} is an unmanaged (C) function pointer");
            Assert.Equal(Clr(ret), pointer.GetFunctionPointerReturnType());
            Assert.Equal(parameters.Select(Clr), pointer.GetFunctionPointerParameterTypes());
        }
    }

    static int EnumValue(string name) => int.Parse(Regex.Match(Header, $@"\b{name}\s*=\s*(\d+)").Groups[1].Value);

    [Fact]
    public void ConstantsAreTheHeaders()
    {
        Assert.Equal(Distributed.Nccl.Success, EnumValue("ncclSuccess"));
        Assert.Equal(Distributed.Nccl.Float32, EnumValue("ncclFloat32"));
        Assert.Equal(Distributed.Nccl.Avg, EnumValue("ncclAvg"));
        var bytes = int.Parse(Regex.Match(Header, @"#define NCCL_UNIQUE_ID_BYTES (\d+)").Groups[1].Value);
        Assert.Equal(128, bytes);
        Assert.Equal(Distributed.Nccl.UniqueIdBytes, bytes);
        Assert.Equal(bytes, (int)typeof(Unsafe).GetMethod(nameof(Unsafe.SizeOf))!.MakeGenericMethod(UniqueId).Invoke(null, null)!);
    }

    [Fact]
    public void VersionCodesReadAsNcclWritesThem()
    {
        // NCCL_VERSION(X,Y,Z): X*1000 + Y*100 + Z up to 2.8, X*10000 + Y*100 + Z after.
        Assert.Equal("2.8.4", Distributed.Nccl.VersionText(2804));
        Assert.Equal("2.21.5", Distributed.Nccl.VersionText(22105));
        Assert.Equal(21000, Distributed.Nccl.AvgSince);
    }

    [Fact]
    public void DevicesSaysWhatItFoundOrWhatItTried()
    {
        if (Devices.Nccl(out var problem) is { } found) Assert.StartsWith("NCCL 2.", found);
        else Assert.Contains("libnccl.so.2 not loaded; tried:", problem);
    }
}
