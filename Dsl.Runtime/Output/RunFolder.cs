using System.Diagnostics;
using System.Globalization;

namespace Dsl.Runtime.Output;

/// <summary>A run folder belongs to one run at a time: <c>run.lock</c> holds the process id and start time of the run
/// that writes there, for the run's life. A second run on the folder is refused, naming the first; the lock of a
/// process that has died (killed, machine rebooted) is taken over.</summary>
public sealed class RunFolder : IDisposable
{
    public const string LockName = "run.lock";

    readonly string lockPath;
    readonly bool owned;

    RunFolder(string lockPath, bool owned) => (this.lockPath, this.owned) = (lockPath, owned);

    /// <summary>Creates <paramref name="dir"/> if needed and takes its lock. A lock this process already holds (the
    /// command line took it before the trainer) is shared, and released by whoever took it first.</summary>
    public static RunFolder Lock(string dir)
    {
        Create(dir);
        var path = Path.Combine(dir, LockName);
        var me = Holder.Current;
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                using (var f = new FileStream(path, FileMode.CreateNew, FileAccess.Write))
                using (var w = new StreamWriter(f)) w.Write(me.ToString());
                return new RunFolder(path, owned: true);
            }
            catch (IOException) when (File.Exists(path) && attempt < 3)
            {
                var holder = Holder.Read(path);
                if (holder == me) return new RunFolder(path, owned: false);
                if (holder is not null && holder.IsAlive())
                    throw new OutputException($"{dir} is in use by another run (process {holder.Pid}, started {holder.Started.ToLocalTime():yyyy-MM-dd HH:mm:ss}); " +
                        "wait for it to finish, stop it (Ctrl-C leaves a checkpoint), or give this run another --out");
                // A dead run's lock, or one cut short while it was written: take it over.
                try { File.Delete(path); }
                catch (IOException) { }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new OutputException($"cannot write in the run folder {dir}: {AtomicFile.Reason(e)}", e);
            }
        }
    }

    /// <summary>Creates a folder, saying in one line why it cannot be (a file in the way, read-only, no such place).</summary>
    public static void Create(string dir)
    {
        if (File.Exists(dir)) throw new OutputException($"cannot use {dir} as a run folder: it is a file");
        try { Directory.CreateDirectory(dir); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            throw new OutputException($"cannot create the run folder {dir}: {AtomicFile.Reason(e)}", e);
        }
    }

    public void Dispose()
    {
        if (!owned) return;
        try { File.Delete(lockPath); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    /// <summary>A process as the lock file names it: its id and start time (a reused id is another process).</summary>
    sealed record Holder(int Pid, DateTime Started)
    {
        public static Holder Current { get; } = new(Environment.ProcessId, StartOf(Process.GetCurrentProcess()));

        public override string ToString() => $"{Pid} {Started.ToUniversalTime().Ticks.ToString(CultureInfo.InvariantCulture)}\n";

        public static Holder? Read(string path)
        {
            try
            {
                var parts = File.ReadAllText(path).Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                return parts.Length == 2 && int.TryParse(parts[0], CultureInfo.InvariantCulture, out var pid) && long.TryParse(parts[1], CultureInfo.InvariantCulture, out var ticks)
                    ? new Holder(pid, new DateTime(ticks, DateTimeKind.Utc)) : null;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
        }

        public bool IsAlive()
        {
            try
            {
                using var p = Process.GetProcessById(Pid);
                return !p.HasExited && Math.Abs((StartOf(p) - Started).TotalSeconds) < 2;
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception) { return false; }
        }

        static DateTime StartOf(Process p) => p.StartTime.ToUniversalTime();
    }
}
