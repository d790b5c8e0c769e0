namespace Dsl.Runtime.Cpu;

/// <summary>Memory the CPU device can still use: the kernel's MemAvailable, lowered to what the process's cgroup (v2
/// memory.max, v1 memory.limit_in_bytes) leaves. Linux overcommits, so a plan larger than this is not refused by the
/// allocator: it grows until the system kills it. Asking first turns that into a message with a batch that fits.</summary>
public static class HostMemory
{
    /// <summary>Bytes available now; long.MaxValue where the system does not say (not Linux).</summary>
    public static long Available()
    {
        if (!OperatingSystem.IsLinux()) return long.MaxValue;
        long available = MemInfo("MemAvailable") ?? long.MaxValue;
        foreach (var (limit, usage) in CgroupFiles())
            if (Number(limit) is long max && Number(usage) is long used && max < long.MaxValue / 2)
                available = Math.Min(available, max - used);
        return Math.Max(0, available);
    }

    static long? MemInfo(string key)
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/meminfo"))
                if (line.StartsWith(key + ":", StringComparison.Ordinal) &&
                    long.TryParse(line[(key.Length + 1)..].Trim().Split(' ')[0], out var kb)) return kb * 1024;
        }
        catch (IOException) { }
        return null;
    }

    /// <summary>The limit and usage files of the process's memory cgroup, v2 and v1, where they exist.</summary>
    static IEnumerable<(string limit, string usage)> CgroupFiles()
    {
        string[] lines;
        try { lines = File.ReadAllLines("/proc/self/cgroup"); }
        catch (IOException) { yield break; }
        foreach (var line in lines)
        {
            var parts = line.Split(':', 3);
            if (parts.Length < 3) continue;
            if (parts[0] == "0" && parts[1] == "")
                foreach (var dir in new[] { "/sys/fs/cgroup" + parts[2], "/sys/fs/cgroup" })
                    yield return (Path.Combine(dir, "memory.max"), Path.Combine(dir, "memory.current"));
            else if (parts[1].Split(',').Contains("memory"))
                foreach (var dir in new[] { "/sys/fs/cgroup/memory" + parts[2], "/sys/fs/cgroup/memory" })
                    yield return (Path.Combine(dir, "memory.limit_in_bytes"), Path.Combine(dir, "memory.usage_in_bytes"));
        }
    }

    static long? Number(string path)
    {
        try { return File.Exists(path) && long.TryParse(File.ReadAllText(path).Trim(), out var v) ? v : null; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }
}
