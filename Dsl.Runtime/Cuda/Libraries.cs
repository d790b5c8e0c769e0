using System.Runtime.InteropServices;

namespace Dsl.Runtime.Cuda;

/// <summary>One attempt to load a native library: the path (or bare name, for the dynamic loader's own search) and what happened.</summary>
public sealed record LoadAttempt(string Path, string Outcome);

/// <summary>A native library found and loaded, or its absence: <see cref="Handle"/> is 0 and <see cref="Tried"/> says
/// every path tried and why each failed. Absence is a value; no DllNotFoundException leaves this class.</summary>
public sealed record NativeLoad(string Library, nint Handle, string? Path, IReadOnlyList<LoadAttempt> Tried)
{
    public bool Found => Handle != 0;

    /// <summary>Every path tried, one a line ("  /a/libcuda.so.1: not found"): for messages and `dsl devices`.</summary>
    public string Describe() => $"{Library} not loaded; tried:" + string.Concat(Tried.Select(t => $"\n  {t.Path}: {t.Outcome}"));
}

/// <summary>Finds the CUDA driver (libcuda.so.1, installed with the NVIDIA driver) and NVRTC (libnvrtc.so.*, from a CUDA
/// toolkit or pip's nvidia-cuda-nvrtc) in the places they are usually installed.</summary>
public static class Libraries
{
    public const string Driver = "libcuda.so.1";
    public const string Nvrtc = "libnvrtc.so";

    /// <summary>Directories searched, in order: CUDA_PATH's and LD_LIBRARY_PATH's, the toolkits under /usr/local (cuda first,
    /// then versioned ones, newest first), the distribution's library folders, and pip's nvidia/cuda_nvrtc/lib in the
    /// active virtual environment and the usual site-packages folders.</summary>
    public static IReadOnlyList<string> Directories(Func<string, string?> env, Func<string, string, IEnumerable<string>> glob)
    {
        var dirs = new List<string>();
        if (env("CUDA_PATH") is { Length: > 0 } cudaPath) dirs.Add(Path.Combine(cudaPath, "lib64"));
        if (env("LD_LIBRARY_PATH") is { Length: > 0 } ld) dirs.AddRange(ld.Split(':', StringSplitOptions.RemoveEmptyEntries));
        dirs.Add("/usr/local/cuda/lib64");
        dirs.AddRange(glob("/usr/local", "cuda-*").OrderByDescending(d => d, VersionOrder).Select(d => Path.Combine(d, "lib64")));
        dirs.AddRange(["/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib/wsl/lib"]);
        var sitePackages = new List<string>();
        if (env("VIRTUAL_ENV") is { Length: > 0 } venv) sitePackages.AddRange(glob(Path.Combine(venv, "lib"), "python3*").Select(d => Path.Combine(d, "site-packages")));
        if (env("HOME") is { Length: > 0 } home) sitePackages.AddRange(glob(Path.Combine(home, ".local/lib"), "python3*").Select(d => Path.Combine(d, "site-packages")));
        sitePackages.AddRange(glob("/usr/local/lib", "python3*").Select(d => Path.Combine(d, "dist-packages")));
        sitePackages.AddRange(glob("/usr/local/lib", "python3*").Select(d => Path.Combine(d, "site-packages")));
        sitePackages.Add("/usr/lib/python3/dist-packages");
        dirs.AddRange(sitePackages.Select(s => Path.Combine(s, "nvidia/cuda_nvrtc/lib")));
        return dirs.Distinct().ToList();
    }

    /// <summary>Candidate files for <paramref name="library"/>, bare name first (the dynamic loader's own search, ld.so.cache
    /// included). The driver is one exact file name; NVRTC is any libnvrtc.so.* in each directory (newest version first;
    /// the libnvrtc-builtins beside it is not NVRTC itself).</summary>
    public static IReadOnlyList<string> Candidates(string library, Func<string, string?> env, Func<string, string, IEnumerable<string>> glob)
    {
        var found = new List<string>();
        foreach (var dir in Directories(env, glob))
            if (library == Nvrtc)
            {
                var versions = glob(dir, "libnvrtc.so.*").OrderByDescending(f => f, VersionOrder).ToList();
                found.AddRange(versions.Count > 0 ? versions : [Path.Combine(dir, "libnvrtc.so")]);
            }
            // pip's package holds NVRTC only; the driver comes with the NVIDIA driver install.
            else if (!dir.EndsWith("cuda_nvrtc/lib")) found.Add(Path.Combine(dir, library));
        return [library, .. found.Distinct()];
    }

    /// <summary>Loads the first candidate that loads, recording every attempt before it.</summary>
    public static NativeLoad Load(string library) => Load(library, Candidates(library, Environment.GetEnvironmentVariable, Glob));

    public static NativeLoad Load(string library, IReadOnlyList<string> candidates)
    {
        var tried = new List<LoadAttempt>();
        foreach (var path in candidates)
        {
            bool bare = !path.Contains('/');
            if (!bare && !File.Exists(path)) { tried.Add(new(path, "not found")); continue; }
            try { return new NativeLoad(library, NativeLibrary.Load(path), path, tried); }
            catch (DllNotFoundException e) { tried.Add(new(path, bare ? "not found by the dynamic loader" : "failed to load: " + FirstLine(e.Message))); }
            catch (BadImageFormatException e) { tried.Add(new(path, "failed to load: " + FirstLine(e.Message))); }
        }
        return new NativeLoad(library, 0, null, tried);
    }

    static string FirstLine(string s) => s.Split('\n')[0].Trim();

    /// <summary>Entries of <paramref name="dir"/> matching <paramref name="pattern"/>; none where the directory is missing or unreadable.</summary>
    static IEnumerable<string> Glob(string dir, string pattern)
    {
        try { return Directory.Exists(dir) ? Directory.EnumerateFileSystemEntries(dir, pattern).ToList() : []; }
        catch (IOException) { return []; }
        catch (UnauthorizedAccessException) { return []; }
    }

    /// <summary>Orders names by their numeric parts, so cuda-12.10 comes after cuda-12.9 and libnvrtc.so.12 after libnvrtc.so.11.2.</summary>
    static readonly Comparer<string> VersionOrder = Comparer<string>.Create((a, b) =>
    {
        var na = Numbers(a);
        var nb = Numbers(b);
        for (int i = 0; i < Math.Min(na.Length, nb.Length); i++)
            if (na[i] != nb[i]) return na[i].CompareTo(nb[i]);
        return na.Length != nb.Length ? na.Length.CompareTo(nb.Length) : string.CompareOrdinal(a, b);
    });

    static long[] Numbers(string s) =>
        System.Text.RegularExpressions.Regex.Matches(Path.GetFileName(s), @"\d+").Select(m => long.TryParse(m.Value, out var n) ? n : 0).ToArray();
}
