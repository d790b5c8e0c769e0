using System.Text;
using System.Text.RegularExpressions;

namespace Dsl.Runtime;

/// <summary>What the OpenCL and CUDA program caches share: where compiled kernels are kept, and how a failed build
/// is reported (its source saved, the compiler's log with the lines it names shown beneath).</summary>
static class KernelSources
{
    /// <summary>$XDG_CACHE_HOME/dsl, else ~/.cache/dsl; each device keeps its own sub-folder.</summary>
    public static string Root
    {
        get
        {
            var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
            var home = string.IsNullOrEmpty(xdg) ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache") : xdg;
            return Path.Combine(home, "dsl");
        }
    }

    /// <summary>The log with each source line it names (the regex's first group is the 1-based line) shown beneath the message about it.</summary>
    public static string Annotate(string log, string source, Regex lineRef)
    {
        var lines = source.Split('\n');
        var sb = new StringBuilder();
        foreach (var entry in log.Split('\n'))
        {
            sb.AppendLine(entry);
            if (lineRef.Match(entry) is { Success: true } m && int.TryParse(m.Groups[1].Value, out var n) && n >= 1 && n <= lines.Length)
                sb.AppendLine($"  {n,5} | {lines[n - 1].TrimEnd()}");
        }
        return sb.ToString().TrimEnd();
    }

    /// <summary>Saves the source of a build that failed under Root/failed (else the temporary folder) and returns its path.</summary>
    public static string SaveFailed(string source, string label, string key, string extension)
    {
        var safe = new string(label.Select(ch => char.IsLetterOrDigit(ch) ? ch : '-').ToArray());
        string dir = Path.Combine(Root, "failed");
        try { Directory.CreateDirectory(dir); }
        catch (IOException) { dir = Path.GetTempPath(); }
        catch (UnauthorizedAccessException) { dir = Path.GetTempPath(); }
        var path = Path.Combine(dir, $"{safe}-{key[..12]}{extension}");
        File.WriteAllText(path, source);
        return path;
    }

    /// <summary>Writes a compiled program through a temporary file, so a reader never sees half of one; a cache that
    /// cannot be written only costs the next run a build.</summary>
    public static void Store(string path, byte[] contents)
    {
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            var temp = path + "." + Environment.ProcessId + ".tmp";
            File.WriteAllBytes(temp, contents);
            File.Move(temp, path, overwrite: true);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
