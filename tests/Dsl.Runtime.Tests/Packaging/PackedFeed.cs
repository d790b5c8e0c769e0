using System.IO.Compression;
using System.Xml.Linq;

namespace Dsl.Runtime.Tests.Packaging;

/// <summary>The packages of this build, packed once into a temporary folder outside the repository that the package
/// tests use as a local NuGet feed; with it a private NuGet cache, so a package restored there is always this build's
/// even when an earlier run cached another build under the same version.</summary>
public sealed class PackedFeed : IDisposable
{
    public string Root { get; } = Directory.CreateTempSubdirectory("dsl-packed-").FullName;
    public string Feed => Path.Combine(Root, "feed");

    /// <summary>The version Directory.Build.props gives, read from the file rather than from the packages.</summary>
    public string Version { get; } =
        XDocument.Load(Path.Combine(Networks.RepoRoot, "Directory.Build.props")).Descendants("Version").Single().Value;

    /// <summary>For every dotnet command the tests start: the private cache, and no build servers left running.</summary>
    public IReadOnlyDictionary<string, string> Environment { get; }

    public PackedFeed()
    {
        var userCache = System.Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } set ? set
            : Path.Combine(System.Environment.GetFolderPath(System.Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        Environment = new Dictionary<string, string>
        {
            ["NUGET_PACKAGES"] = Path.Combine(Root, "nuget-cache"),
            ["MSBUILDDISABLENODEREUSE"] = "1",
            ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
            ["DOTNET_NOLOGO"] = "1",
        };
        // Packs what the solution build made (./test builds first), as `dotnet pack` does in a checkout.
        var (code, output) = Processes.Run("dotnet",
            $"pack \"{Path.Combine(Networks.RepoRoot, "Dsl.sln")}\" -c {Processes.Configuration} --no-build --nologo -v q --disable-build-servers " +
            $"-p:PackageOutputPath=\"{Feed}\"", Networks.RepoRoot, Environment);
        if (code != 0)
            throw new InvalidOperationException($"dotnet pack failed; the package tests pack the solution's build, so build Dsl.sln -c {Processes.Configuration} first:\n{output}");
        // Dsl.* and dsl only from the feed (source mapping: a package of the same version that the user's cache holds
        // from another build must not win); the rest from the user's NuGet cache used as a local source, which the
        // solution's build filled, or from nuget.org.
        var userSource = Directory.Exists(userCache) ? $"""<add key="user-cache" value="{userCache}" />""" : "";
        var userMapping = Directory.Exists(userCache) ? """<packageSource key="user-cache"><package pattern="*" /></packageSource>""" : "";
        File.WriteAllText(Path.Combine(Root, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="dsl-packed" value="{Feed}" />
                {userSource}
              </packageSources>
              <packageSourceMapping>
                <packageSource key="dsl-packed"><package pattern="Dsl.*" /><package pattern="dsl" /></packageSource>
                {userMapping}
                <packageSource key="nuget.org"><package pattern="*" /></packageSource>
              </packageSourceMapping>
            </configuration>
            """);
    }

    public string Package(string id) => Path.Combine(Feed, $"{id}.{Version}.nupkg");

    /// <summary>A file's text from inside a package.</summary>
    public string Read(string id, string entry)
    {
        using var zip = ZipFile.OpenRead(Package(id));
        var found = zip.GetEntry(entry) ?? throw new FileNotFoundException($"{entry} is not in {Package(id)}");
        using var reader = new StreamReader(found.Open());
        return reader.ReadToEnd();
    }

    public IReadOnlyList<string> Entries(string id)
    {
        using var zip = ZipFile.OpenRead(Package(id));
        return zip.Entries.Select(e => e.FullName).ToList();
    }

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); }
        catch (IOException) { } // a file still held open leaves the folder to the system's temporary clean-up
    }
}
