using System.Runtime.InteropServices;

namespace Dsl.Runtime.Distributed;

/// <summary>A 64-bit digest of tensors' exact bits, to tell whether processes that should hold the same weights do. It is
/// Σ bits[i]·(2i+1) mod 2^64 per tensor, mixed with the tensor's position: the odd multipliers are invertible, so a change of
/// any one value always changes it, and it reads memory as fast as a sum. It guards against drift (a nondeterministic
/// kernel, a faulty machine), not against an adversary.</summary>
public static class WeightsDigest
{
    public static ulong Of(ParameterSet parameters, IEnumerable<string> names)
    {
        ulong digest = 0x9E3779B97F4A7C15UL;
        float[] buffer = [];
        ulong position = 0;
        foreach (var name in names)
        {
            var b = parameters[name];
            if (buffer.Length < b.Floats) buffer = new float[b.Floats];
            var values = buffer.AsSpan(0, (int)b.Floats);
            b.Download(values);
            digest = (digest ^ Of(values)) * 0x100000001B3UL + ++position;
        }
        return digest;
    }

    public static ulong Of(ReadOnlySpan<float> values)
    {
        var bits = MemoryMarshal.Cast<float, uint>(values);
        ulong sum = 0;
        for (int i = 0; i < bits.Length; i++) sum += bits[i] * (2UL * (ulong)i + 1);
        return sum;
    }

    /// <summary>The processes whose digest differs from process 0's (which writes the run folder), or none.</summary>
    public static IReadOnlyList<int> Drifted(IReadOnlyList<ulong> digests) =>
        Enumerable.Range(1, Math.Max(0, digests.Count - 1)).Where(r => digests[r] != digests[0]).ToList();
}
