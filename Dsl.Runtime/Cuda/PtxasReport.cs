using System.Globalization;
using System.Text.RegularExpressions;

namespace Dsl.Runtime.Cuda;

/// <summary>What ptxas made of one kernel: registers per thread, stack frame and spills (bytes), static shared memory
/// (bytes), the block size and dynamic shared memory (bytes) it launches with, and the blocks of that size one SM can hold
/// (<see cref="Occupancy"/>, from both kinds of shared memory).</summary>
public sealed record KernelResources(
    string Function, int Threads, int Registers, int StackFrame, int SpillStores, int SpillLoads, int SharedBytes,
    int DynamicSharedBytes, int BlocksPerSm, string LimitedBy);

/// <summary>Reads the per-kernel lines ptxas writes with -v (through NVRTC's --ptxas-options=-v, or ptxas itself):
/// <code>
/// ptxas info    : Compiling entry function 'k00_conv_forward' for 'sm_90'
/// ptxas info    : Function properties for k00_conv_forward
/// ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
/// ptxas info    : Used 56 registers, 8704 bytes smem, 400 bytes cmem[0]
/// </code>
/// Only entry functions count: helpers that were not inlined are reported inside the kernels' frames.</summary>
public static partial class PtxasReport
{
    public sealed record Entry(string Function, int Registers, int StackFrame, int SpillStores, int SpillLoads, int SharedBytes);

    /// <summary>Every entry function the log describes, in its order; a log without them gives an empty list.</summary>
    public static IReadOnlyList<Entry> Parse(string log)
    {
        var entries = new List<Entry>();
        string? current = null, properties = null;
        int stack = 0, stores = 0, loads = 0;
        foreach (var line in log.Split('\n'))
        {
            if (EntryLine().Match(line) is { Success: true } e) { current = e.Groups[1].Value; properties = null; stack = stores = loads = 0; }
            else if (PropertiesLine().Match(line) is { Success: true } p) properties = p.Groups[1].Value;
            else if (FrameLine().Match(line) is { Success: true } f && properties == current)
                (stack, stores, loads) = (Int(f.Groups[1]), Int(f.Groups[2]), Int(f.Groups[3]));
            else if (UsedLine().Match(line) is { Success: true } u && current is not null)
            {
                entries.Add(new Entry(current, Int(u.Groups[1]), stack, stores, loads, u.Groups[2].Success ? Int(u.Groups[2]) : 0));
                current = null;
            }
        }
        return entries;
    }

    static int Int(Group g) => int.Parse(g.Value, CultureInfo.InvariantCulture);

    [GeneratedRegex(@"Compiling entry function '([^']+)'")]
    private static partial Regex EntryLine();
    [GeneratedRegex(@"Function properties for (\S+)")]
    private static partial Regex PropertiesLine();
    [GeneratedRegex(@"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads")]
    private static partial Regex FrameLine();
    [GeneratedRegex(@"Used (\d+) registers(?:, (\d+) bytes smem)?")]
    private static partial Regex UsedLine();
}
