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

    RunFolder(string lockPath, bool owned, IReadOnlyList<(string Name, long Bytes)> removed) =>
        (this.lockPath, this.owned, Removed) = (lockPath, owned, removed);

    /// <summary>Temporary files of writes that a killed run left half done (<c>NAME.PID.tmp</c>), removed when the lock
    /// was taken: nothing else would remove them, and a checkpoint's can be hundreds of megabytes.</summary>
    public IReadOnlyList<(string Name, long Bytes)> Removed { get; }

    /// <summary>Refuses <paramref name="dir"/> as the folder of a new run unless it is missing, empty, or holds only what
    /// a run killed before it wrote its settings leaves (its lock, its model copy, temporary files). A finished run,
    /// an unfinished one (which <c>--resume</c> continues) and any other files are kept as they are.</summary>
    public static void CheckNew(string dir)
    {
        if (File.Exists(dir)) throw new OutputException($"cannot use {dir} as a run folder: it is a file");
        if (!Directory.Exists(dir)) return;
        var holder = Holder.Read(Path.Combine(dir, LockName));
        if (holder is not null && holder.IsAlive()) throw InUse(dir, holder);
        CheckHoldsNoRun(dir);
    }

    /// <summary>The contents half of <see cref="CheckNew"/>, for a folder whose lock the caller holds.</summary>
    internal static void CheckHoldsNoRun(string dir)
    {
        bool Has(string name) => File.Exists(Path.Combine(dir, name));
        if (Has("weights.safetensors"))
            throw new OutputException($"{dir} holds a finished run (weights.safetensors) and would be overwritten; give this run another --out, or remove {dir} first");
        if (Has("run.json") || Has(Checkpoints.Latest))
            throw new OutputException($"{dir} holds an unfinished run; continue it with `dsl run --resume {dir}`, or give this run another --out");
        var others = Directory.EnumerateFileSystemEntries(dir).Select(Path.GetFileName)
            .Where(name => name is not (LockName or "model.model") && !IsTemporary(name!)).ToList();
        if (others.Count > 0)
            throw new OutputException($"{dir} is not empty ({others.Count} {(others.Count == 1 ? "entry" : "entries")}, such as {others[0]}) and is not a run folder; a new run needs a new or empty folder: give another --out");
    }

    /// <summary>A name <see cref="AtomicFile"/> gives its temporary files: <c>NAME.PID.tmp</c>.</summary>
    static bool IsTemporary(string name)
    {
        var parts = name.Split('.');
        return parts.Length >= 3 && parts[^1] == "tmp" && parts[^2].Length > 0 && parts[^2].All(char.IsAsciiDigit);
    }

    /// <summary>Whether another live process wrote <paramref name="name"/> (NAME.PID.tmp); this one has written none yet.</summary>
    static bool WriterAlive(string name)
    {
        if (!int.TryParse(name.Split('.')[^2], NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || pid == Environment.ProcessId)
            return false;
        return Running(pid, _ => true);
    }

    /// <summary>Whether process <paramref name="pid"/> runs and <paramref name="isTheOne"/> says it is the one meant (not a
    /// later process given a reused id).</summary>
    static bool Running(int pid, Func<Process, bool> isTheOne)
    {
        try
        {
            using var p = Process.GetProcessById(pid);
            return !p.HasExited && !IsZombie(pid) && isTheOne(p);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception) { return false; }
    }

    /// <summary>A process that has ended but is not yet reaped (a killed MPI process whose launcher is still winding
    /// down) still answers to its id, yet holds nothing: Linux marks it Z in /proc/PID/stat.</summary>
    static bool IsZombie(int pid)
    {
        try { return File.ReadAllText($"/proc/{pid}/stat").Split(')')[^1].TrimStart().StartsWith('Z'); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
    }

    static OutputException InUse(string dir, Holder holder) =>
        new($"{dir} is in use by another run (process {holder.Pid}, started {holder.Started.ToLocalTime():yyyy-MM-dd HH:mm:ss}); " +
            "wait for it to finish, stop it (Ctrl-C leaves a checkpoint), or give this run another --out");

    /// <summary>Once the lock is held, no other run writes here; a temporary file is a dead run's unless the process its
    /// name gives is alive (a `dsl eval` or `dsl export` writing into the folder beside the run), which is left alone.</summary>
    static List<(string, long)> RemoveTemporaryFiles(string dir)
    {
        var removed = new List<(string, long)>();
        foreach (var file in new DirectoryInfo(dir).EnumerateFiles("*.tmp").Where(f => IsTemporary(f.Name) && !WriterAlive(f.Name)))
        {
            try
            {
                long bytes = file.Length;
                file.Delete();
                removed.Add((file.Name, bytes));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { } // left; the run does not need it gone
        }
        return removed;
    }

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
                return new RunFolder(path, owned: true, RemoveTemporaryFiles(dir));
            }
            catch (IOException) when (File.Exists(path) && attempt < 3)
            {
                var holder = Holder.Read(path);
                if (holder == me) return new RunFolder(path, owned: false, []);
                if (holder is not null && holder.IsAlive()) throw InUse(dir, holder);
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

    /// <summary>Whether this lock was taken here, not shared with a caller that took it first (and checked the folder).</summary>
    internal bool Owned => owned;

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

        public bool IsAlive() => Running(Pid, p => Math.Abs((StartOf(p) - Started).TotalSeconds) < 2);

        static DateTime StartOf(Process p) => p.StartTime.ToUniversalTime();
    }
}
