namespace Dsl.Runtime;

/// <summary>Derives independent, repeatable seeds from the run's seed (HashCode.Combine is randomised per process,
/// so it cannot serve where a seed must give the same run twice).</summary>
public static class Seeds
{
    /// <summary>SplitMix64 over the values in order.</summary>
    public static ulong Mix(params long[] values)
    {
        ulong z = 0x9E3779B97F4A7C15UL;
        foreach (var v in values)
        {
            z += (ulong)v * 0xBF58476D1CE4E5B9UL + 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            z ^= z >> 31;
        }
        return z;
    }

    /// <summary>A System.Random seed from <see cref="Mix"/>.</summary>
    public static int Int(params long[] values) => (int)(Mix(values) & 0x7FFFFFFF);

    /// <summary>A stable hash of a name (FNV-1a), to give each tensor its own stream.</summary>
    public static long Of(string name)
    {
        ulong h = 14695981039346656037UL;
        foreach (var c in name) h = (h ^ c) * 1099511628211UL;
        return (long)h;
    }
}
