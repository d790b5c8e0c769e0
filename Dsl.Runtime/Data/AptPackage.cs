using System.Diagnostics;

namespace Dsl.Runtime.Data;

/// <summary>Takes a data set out of the distribution's package without installing it: `apt-get download` then
/// `dpkg-deb -x`, which need no root once the package lists exist (as root, empty lists are refreshed first).</summary>
public static class AptPackage
{
    /// <summary>Whether this machine has apt and dpkg-deb.</summary>
    public static bool Available => OnPath("apt-get") && OnPath("dpkg-deb");

    /// <summary>Unpacks <paramref name="package"/> below <paramref name="work"/> and returns the folder that holds
    /// /usr/share/datasets/<paramref name="folder"/> from it. Throws a <see cref="DataException"/> saying what failed.</summary>
    public static string Extract(string package, string folder, string work)
    {
        Directory.CreateDirectory(work);
        if (Environment.UserName == "root" && !ListsPresent())
            Run("apt-get", ["update", "-qq"], work);
        Run("apt-get", ["download", "-qq", package], work);
        var deb = Directory.GetFiles(work, package + "_*.deb").FirstOrDefault()
            ?? throw new DataException($"apt-get download {package} left no .deb in {work}");
        var root = Path.Combine(work, "root");
        Run("dpkg-deb", ["-x", deb, root], work);
        var dir = Path.Combine(root, "usr", "share", "datasets", folder);
        return Directory.Exists(dir) ? dir : throw new DataException($"{package} does not hold /usr/share/datasets/{folder}");
    }

    static bool ListsPresent() =>
        Directory.Exists("/var/lib/apt/lists") && Directory.EnumerateFiles("/var/lib/apt/lists", "*Packages*").Any();

    static bool OnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => d.Length > 0 && File.Exists(Path.Combine(d, program)));

    static void Run(string program, string[] args, string cwd)
    {
        var info = new ProcessStartInfo(program) { WorkingDirectory = cwd, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) info.ArgumentList.Add(a);
        info.Environment["DEBIAN_FRONTEND"] = "noninteractive";
        using var p = Process.Start(info) ?? throw new DataException($"could not start {program}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            var said = string.Join(" ", (stderr + stdout.Result).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Where(l => !l.StartsWith("W:")).Take(3));
            throw new DataException($"`{program} {string.Join(' ', args)}` failed (exit {p.ExitCode}){(said.Length > 0 ? ": " + said : "")}");
        }
    }
}
