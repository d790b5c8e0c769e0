using System.Runtime.CompilerServices;

namespace Dsl.Runtime.Tests;

/// <summary>Every test, and every program a test starts, finds its data in the repository's shipped subset, keeps any
/// cache in a temporary folder and can reach no publisher: the suite needs nothing from the system and no network.</summary>
static class TestData
{
    public static string Root => Path.Combine(Networks.RepoRoot, "tests", "data");

    [ModuleInitializer]
    internal static void PointAtShippedData()
    {
        Environment.SetEnvironmentVariable("DSL_DATA", Root);
        Environment.SetEnvironmentVariable("XDG_CACHE_HOME", Directory.CreateTempSubdirectory("dsl-test-cache-").FullName);
        // Port 9 (discard) on loopback refuses at once: a data set missing from DSL_DATA fails fast, never downloads.
        Environment.SetEnvironmentVariable("DSL_DATA_MIRROR", "http://127.0.0.1:9/");
    }
}
