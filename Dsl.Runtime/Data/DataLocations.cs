namespace Dsl.Runtime.Data;

/// <summary>Where data sets are looked for, in order, and where fetched ones are kept.</summary>
/// <param name="UserRoot">$DSL_DATA, or null when unset.</param>
/// <param name="Cache">The user's cache: $XDG_CACHE_HOME/dsl/datasets, else ~/.cache/dsl/datasets. Fetched sets land here.</param>
/// <param name="SystemRoots">Folders that distribution packages fill (/usr/share/datasets).</param>
/// <param name="Mirror">When set, every publisher address is replaced by this base address plus the file's name (tests
/// serve files from 127.0.0.1 this way; $DSL_DATA_MIRROR sets it).</param>
/// <param name="UseApt">Whether the distribution's package may be fetched when downloading fails.</param>
/// <param name="Limits">When a download gives up on a server (null: <see cref="DownloadLimits.Default"/>; tests set seconds).</param>
public sealed record DataLocations(string? UserRoot, string Cache, IReadOnlyList<string> SystemRoots, Uri? Mirror = null, bool UseApt = true,
    DownloadLimits? Limits = null)
{
    /// <summary>The locations the environment gives.</summary>
    public static DataLocations FromEnvironment()
    {
        static string? Env(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v : null;
        var cacheHome = Env("XDG_CACHE_HOME") ?? Path.Combine(Env("HOME") ?? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        var mirror = Env("DSL_DATA_MIRROR") is { } m ? new Uri(m.EndsWith('/') ? m : m + "/") : null;
        return new DataLocations(Env("DSL_DATA"), Path.Combine(cacheHome, "dsl", "datasets"), ["/usr/share/datasets"], mirror);
    }

    /// <summary>The roots in search order, each with how a message names it.</summary>
    public IEnumerable<(string root, string label)> Roots()
    {
        if (UserRoot is not null) yield return (UserRoot, "$DSL_DATA");
        yield return (Cache, "cache");
        foreach (var r in SystemRoots) yield return (r, "system");
    }

    /// <summary>The address a file is fetched from.</summary>
    public Uri AddressOf(RemoteFile file) => Mirror is null ? file.Url : new Uri(Mirror, file.Name);
}
