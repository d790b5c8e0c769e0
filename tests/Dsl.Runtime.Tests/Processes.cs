using System.Diagnostics;

namespace Dsl.Runtime.Tests;

/// <summary>Running a program as a user would (dotnet, an example, an installed tool) and what it printed.</summary>
static class Processes
{
    /// <summary>The configuration these tests were built in, which is the one the solution's outputs are in.</summary>
    public static string Configuration =>
        AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}") ? "Release" : "Debug";

    /// <summary>Exit code and stdout + stderr. <paramref name="environment"/> adds to the variables this process has.</summary>
    public static (int code, string output) Run(string file, string args, string workdir, IReadOnlyDictionary<string, string>? environment = null)
    {
        var psi = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workdir };
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) psi.Environment[name] = value;
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        return (p.ExitCode, output.Result + error.Result);
    }
}
