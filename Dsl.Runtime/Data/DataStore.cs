using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;

namespace Dsl.Runtime.Data;

/// <summary>Finds a known data set in the places <see cref="DataLocations"/> lists, or fetches it into the cache: from
/// the publisher (checked against its digest), else from the distribution's package. A fetch builds the set in a
/// staging folder and renames it into place whole, so the cache never holds half a data set.</summary>
public static class DataStore
{
    /// <summary>The folders that may hold <paramref name="set"/>, in search order.</summary>
    public static IEnumerable<string> Candidates(KnownDataSet set, DataLocations at) =>
        // Only $DSL_DATA may hold a set's files directly: the cache and system roots hold one folder per set.
        at.Roots().SelectMany(r => set.Subfolders.Where(s => s.Length > 0 || r.root == at.UserRoot).Select(s => Path.Combine(r.root, s)));

    /// <summary>The first folder that holds <paramref name="set"/>, or null.</summary>
    public static string? Find(KnownDataSet set, DataLocations at) => Candidates(set, at).FirstOrDefault(set.IsIn);

    /// <summary>Where the cache records the SHA-256 of every file of a set it fetched, as `sha256sum` writes them (so
    /// `sha256sum -c .digests` checks it by hand too).</summary>
    public const string Manifest = ".digests";

    /// <summary>The folder that holds <paramref name="set"/>, or null. A copy in the cache is checked against the digests
    /// recorded when it was fetched (a copy without them, put there by hand or by an older dsl: each gzip file must
    /// decompress, its CRC matching); a damaged one is removed, and <paramref name="log"/> told why, so that it is
    /// fetched again.</summary>
    public static string? Verified(KnownDataSet set, DataLocations at, Action<string>? log = null)
    {
        var found = Find(set, at);
        if (found is null || !Inside(found, at.Cache) || Damage(found) is not string damage) return found;
        log?.Invoke($"{set.Name}: {damage}; removing the cached copy (it is taken from another place or fetched again)");
        try { Directory.Delete(found, recursive: true); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DataException($"{set.Name}: {damage}, and the copy cannot be removed ({e.Message.TrimEnd('.')}); delete {found} and run `dsl data get {set.Name}`");
        }
        return Find(set, at);
    }

    /// <summary>What to do about a damaged file of <paramref name="set"/> found in <paramref name="dir"/>.</summary>
    public static string Repair(KnownDataSet set, DataLocations at, string dir) =>
        Inside(dir, at.Cache) ? $"`dsl data get {set.Name}` checks the cached copy and fetches a damaged one again"
        : set.AptPackage is { } package && at.SystemRoots.Any(r => Inside(dir, r))
            ? $"the {package} package's files are damaged: reinstall it (sudo apt-get install --reinstall {package})"
        : $"replace it with a good copy, or move {dir} away so that `dsl data get {set.Name}` fetches one into the cache";

    /// <summary>The first file of the cached copy in <paramref name="dir"/> that does not match its digest, in words; null when all do.</summary>
    static string? Damage(string dir)
    {
        var manifest = Path.Combine(dir, Manifest);
        if (!File.Exists(manifest))
        {
            foreach (var gz in Directory.EnumerateFiles(dir, "*.gz").Order(StringComparer.Ordinal))
            {
                try { Idx.ReadAll(gz); }
                catch (DataException e) { return e.Message; }
            }
            return null;
        }
        foreach (var line in File.ReadAllLines(manifest).Where(l => l.Length > 66))
        {
            var (expected, name) = (line[..64], line[66..]);
            var path = Path.Combine(dir, name);
            if (!File.Exists(path)) return $"{path} is missing";
            var actual = Download.Hash(path, "sha256");
            if (actual != expected) return $"{path} is damaged: its sha256 is {actual}, {expected} when it was fetched";
        }
        return null;
    }

    static bool Inside(string path, string folder)
    {
        var relative = Path.GetRelativePath(Path.GetFullPath(folder), Path.GetFullPath(path));
        return relative != ".." && !relative.StartsWith(".." + Path.DirectorySeparatorChar) && !Path.IsPathRooted(relative);
    }

    /// <summary>The folder that holds <paramref name="set"/>, fetching it when no place has it. <paramref name="log"/>
    /// gets one line per fetched file and per source that failed.</summary>
    public static string Get(KnownDataSet set, DataLocations at, Action<string>? log = null, IProgress<DownloadProgress>? progress = null, CancellationToken cancel = default)
    {
        if (Verified(set, at, log) is { } found)
        {
            try { AdoptInterrupted(set, at, null, log); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { } // a read-only cache keeps them
            return found;
        }
        var tried = new List<string>();
        try
        {
            Directory.CreateDirectory(at.Cache);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DataException(Missing(set, at, [$"the cache {at.Cache} cannot be created: {e.Message}"]));
        }
        var staging = Path.Combine(at.Cache, $".fetch-{set.Folder}-{Environment.ProcessId}");
        try
        {
            AdoptInterrupted(set, at, staging, log);
            try
            {
                return Install(set, at, FromPublisher(set, at, staging, log, progress, cancel), staging);
            }
            catch (DataException e)
            {
                tried.Add(e.Message);
            }
            if (set.AptPackage is { } package && at.UseApt)
            {
                if (!AptPackage.Available) tried.Add($"the {package} package: this machine has no apt-get");
                else
                    try
                    {
                        log?.Invoke($"{set.Name}: the download failed ({tried[^1]}); taking it from the distribution's {package} package");
                        var dir = AptPackage.Extract(package, set.Folder, Path.Combine(staging, "apt"));
                        CheckContent(set, dir, $"the {package} package");
                        return Install(set, at, dir, staging);
                    }
                    catch (DataException e)
                    {
                        tried.Add($"the {package} package: {e.Message}");
                    }
            }
            throw new DataException(Missing(set, at, tried));
        }
        finally
        {
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        }
    }

    /// <summary>Takes over what fetches of <paramref name="set"/> that were killed left in the cache: their partial
    /// downloads (TARGET.part) move into <paramref name="staging"/> (when one is given), where the download resumes them
    /// with a range request; the rest of their staging folders is removed. A staging folder whose process still runs is
    /// left alone.</summary>
    static void AdoptInterrupted(KnownDataSet set, DataLocations at, string? staging, Action<string>? log)
    {
        var prefix = $".fetch-{set.Folder}-";
        if (!Directory.Exists(at.Cache)) return;
        foreach (var stale in Directory.EnumerateDirectories(at.Cache, prefix + "*").ToList())
        {
            if (!int.TryParse(Path.GetFileName(stale)[prefix.Length..], out int pid) || pid == Environment.ProcessId || Running(pid)) continue;
            var files = staging is null ? null : Path.Combine(staging, "files");
            var parts = files is not null && Directory.Exists(Path.Combine(stale, "files")) ? Directory.GetFiles(Path.Combine(stale, "files"), "*.part") : [];
            if (files is not null) Directory.CreateDirectory(files);
            foreach (var part in parts)
            {
                var name = Path.GetFileName(part);
                if (files is null || !set.Files.Any(f => f.Name + ".part" == name) || File.Exists(Path.Combine(files, name))) continue;
                File.Move(part, Path.Combine(files, name));
                log?.Invoke($"{set.Name}: resuming {name[..^".part".Length]} from the {new FileInfo(Path.Combine(files, name)).Length / 1e6:F1} MB an interrupted fetch left");
            }
            Directory.Delete(stale, recursive: true);
        }
    }

    static bool Running(int pid)
    {
        try { using var p = System.Diagnostics.Process.GetProcessById(pid); return !p.HasExited; }
        catch (ArgumentException) { return false; }
        catch (InvalidOperationException) { return false; }
    }

    /// <summary>Downloads the publisher's files into the staging folder; returns the folder that holds the set.</summary>
    static string FromPublisher(KnownDataSet set, DataLocations at, string staging, Action<string>? log, IProgress<DownloadProgress>? progress, CancellationToken cancel)
    {
        var files = Path.Combine(staging, "files");
        Directory.CreateDirectory(files);
        foreach (var file in set.Files)
        {
            var url = at.AddressOf(file);
            var target = Path.Combine(files, file.Name);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            Download.Fetch(url, target, file, at.Limits, progress, log, cancel);
            log?.Invoke($"{set.Name}: fetched {file.Name} from {url} ({new FileInfo(target).Length / 1e6:F1} MB in {clock.Elapsed.TotalSeconds:F1} s, {file.Digest.Algorithm} matches)");
        }
        if (set.Archive is null) return files;
        var unpacked = Path.Combine(staging, "unpacked");
        foreach (var file in set.Files)
            Unpack(Path.Combine(files, file.Name), unpacked);
        var dir = Path.Combine(unpacked, set.Archive);
        return set.IsIn(dir) ? dir : throw new DataException($"{set.Files[0].Name} does not unpack to {set.Archive}/ with {string.Join(", ", set.Marker)}");
    }

    static void Unpack(string archive, string into)
    {
        Directory.CreateDirectory(into);
        try
        {
            using var gz = new GZipStream(File.OpenRead(archive), CompressionMode.Decompress);
            TarFile.ExtractToDirectory(gz, into, overwriteFiles: false);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            throw new DataException($"{Path.GetFileName(archive)} could not be unpacked: {e.Message}");
        }
    }

    /// <summary>Checks the uncompressed content of each marker file against the digests the catalog knows.</summary>
    static void CheckContent(KnownDataSet set, string dir, string source)
    {
        foreach (var (name, expected) in set.ContentSha256)
        {
            var path = KnownDataSet.PathOf(dir, name);
            using var file = File.OpenRead(path);
            using Stream content = path.EndsWith(".gz") ? new GZipStream(file, CompressionMode.Decompress) : file;
            string actual;
            try { actual = Convert.ToHexStringLower(SHA256.HashData(content)); }
            catch (InvalidDataException e) { throw new DataException($"{path} from {source} is damaged: its gzip data does not decompress ({e.Message.TrimEnd('.')})"); }
            if (actual != expected)
                throw new DataException($"{name} from {source} does not hold {set.Title}'s data: expected content sha256 {expected}, got {actual}");
        }
    }

    /// <summary>Renames the finished set into the cache; returns where it now is.</summary>
    static string Install(KnownDataSet set, DataLocations at, string from, string staging)
    {
        // The cache keeps the set as its search order expects it: Folder/ for file sets, Folder/Archive/ for archives.
        var target = set.Archive is null ? Path.Combine(at.Cache, set.Folder) : Path.Combine(at.Cache, set.Folder, set.Archive);
        if (set.IsIn(target)) return target; // another process finished first
        // Recorded now, with the files checked: later runs find a changed byte by these.
        var digests = Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
            .Select(f => $"{Download.Hash(f, "sha256")}  {Path.GetRelativePath(from, f)}").ToList();
        File.WriteAllLines(Path.Combine(from, Manifest), digests);
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        if (Directory.Exists(target))
        {
            // An incomplete folder left by hand: moved aside whole rather than mixed with the new files.
            var aside = Path.Combine(staging, "incomplete");
            Directory.Move(target, aside);
        }
        Directory.Move(from, target);
        return target;
    }

    static string Missing(KnownDataSet set, DataLocations at, IReadOnlyList<string> tried)
    {
        var looked = string.Join(", ", Candidates(set, at).Distinct());
        var lines = new List<string>
        {
            $"the {set.Name} data set was not found and could not be fetched.",
            $"  looked in: {looked}" + (at.UserRoot is null ? " ($DSL_DATA is not set)" : ""),
        };
        lines.AddRange(tried.Select((t, i) => (i == 0 ? "  tried:     " : "             ") + t));
        lines.Add($"  fix:       {FixCommand(set, at)}");
        lines.Add("  (or put the files in a folder and set DSL_DATA to it)");
        return string.Join('\n', lines);
    }

    /// <summary>The one command that puts the set where the search finds it.</summary>
    static string FixCommand(KnownDataSet set, DataLocations at)
    {
        if (set.AptPackage is { } package) return $"sudo apt-get install {package}";
        var cache = Path.Combine(at.Cache, set.Folder);
        return set.Archive is null
            ? $"mkdir -p {cache} && cd {cache} && {string.Join(" && ", set.Files.Select(f => $"curl -fLO {f.Url}"))}"
            : $"mkdir -p {cache} && curl -fL {set.Files[0].Url} | tar xz -C {cache}";
    }
}
