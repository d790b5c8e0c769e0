namespace Dsl.Runtime.Data;

/// <summary>The files under an image folder's class folders, each at most once: a link to a folder is followed only
/// into a folder not read yet and inside the data folder (or the class folder it was listed in), so link loops
/// (`cats/up -> ..`) and links across classes cannot multiply or mislabel images; FIFOs, devices and sockets are
/// listed as skipped without being opened; a folder that cannot be read is listed like a file that cannot. A file reached
/// twice (a link to a file of another class, a hard link) counts once: where it really is, when one of the paths is
/// not a link, else where it is met first (class folders in sorted order, entries in ordinal order); the other paths
/// are listed as skipped naming the one counted. The lists <see cref="Files"/> returns are final once every class
/// folder has been walked.</summary>
sealed class FolderWalk
{
    readonly string realRoot;
    readonly HashSet<string> visited = [];
    readonly Dictionary<string, (string Path, bool Link, List<string> Files)> taken = [];

    public List<SkippedFile> Skipped { get; } = [];

    /// <summary>Marks every class folder as read before any is walked, so a link from one class into another is refused
    /// rather than reading the other's images under the wrong label.</summary>
    public FolderWalk(string root, IReadOnlyList<string> classDirs)
    {
        realRoot = FileKinds.RealPath(root);
        visited.Add(FileKinds.Stat(root, followLinks: true).Identity);
        var seen = new Dictionary<string, string>();
        foreach (var dir in classDirs)
        {
            var id = FileKinds.Stat(dir, followLinks: true).Identity;
            if (seen.TryGetValue(id, out var other))
                throw new DataException($"the class folders {other} and {dir} are the same folder (one links to the other); a class needs its own images");
            seen[id] = dir;
            visited.Add(id);
        }
    }

    /// <summary>The files under one class folder, in ordinal order of their paths.</summary>
    public List<string> Files(string classDir)
    {
        var files = new List<string>();
        Walk(classDir, FileKinds.RealPath(classDir), files);
        return files;
    }

    void Walk(string dir, string realClassDir, List<string> files)
    {
        string[] entries;
        try
        {
            // Hidden entries are skipped as the system's file listing skips them; inaccessible ones are not silently dropped.
            entries = Directory.EnumerateFileSystemEntries(dir, "*", new EnumerationOptions { IgnoreInaccessible = false })
                .Order(StringComparer.Ordinal).ToArray();
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            Skipped.Add(new SkippedFile(dir, $"the folder cannot be read ({Output.AtomicFile.Reason(e)}); its images are left out"));
            return;
        }
        foreach (var entry in entries)
        {
            var own = FileKinds.Stat(entry, followLinks: false);
            switch (own.Kind)
            {
                case FileKind.Regular:
                    Take(entry, own.Identity, link: false, files);
                    break;
                case FileKind.Directory:
                    // A bind mount can bring a folder back inside itself, like a link.
                    if (visited.Add(own.Identity)) Walk(entry, realClassDir, files);
                    else Skipped.Add(new SkippedFile(entry, "the same folder as one already read; not read twice"));
                    break;
                case FileKind.Link:
                    FollowLink(entry, realClassDir, files);
                    break;
                case FileKind.Missing:
                    break; // removed while we looked
                default:
                    Skipped.Add(new SkippedFile(entry, $"not a regular file but {FileKinds.Describe(own.Kind)}; not opened"));
                    break;
            }
        }
    }

    void FollowLink(string link, string realClassDir, List<string> files)
    {
        var target = FileKinds.Stat(link, followLinks: true);
        switch (target.Kind)
        {
            case FileKind.Regular:
                Take(link, target.Identity, link: true, files);
                return;
            case FileKind.Missing:
                Skipped.Add(new SkippedFile(link, "a link to nothing (broken, or a loop of links)"));
                return;
            case FileKind.Directory:
                var real = FileKinds.RealPath(link);
                if (!Inside(real, realRoot) && !Inside(real, realClassDir))
                    Skipped.Add(new SkippedFile(link, $"a link to {real}, outside the data folder; not followed"));
                else if (!visited.Add(target.Identity))
                    Skipped.Add(new SkippedFile(link, $"a link to {real}, a folder already read; not followed, so no image counts twice"));
                else Walk(link, realClassDir, files);
                return;
            default:
                Skipped.Add(new SkippedFile(link, $"a link to {FileKinds.Describe(target.Kind)}, not a regular file; not opened"));
                return;
        }
    }

    void Take(string path, string identity, bool link, List<string> files)
    {
        if (!taken.TryGetValue(identity, out var first))
        {
            taken[identity] = (path, link, files);
            files.Add(path);
        }
        else if (first.Link && !link)
        {
            // The file itself, met after a link to it: it counts where it is, under its own class.
            first.Files.Remove(first.Path);
            files.Add(path);
            taken[identity] = (path, false, files);
            Skipped.Add(new SkippedFile(first.Path, $"a link to {path}, which is counted where it is; not counted twice"));
        }
        else Skipped.Add(new SkippedFile(path, $"the same file as {first.Path}, which is counted there; not counted twice"));
    }

    static bool Inside(string path, string folder) =>
        path == folder || path.StartsWith(folder.EndsWith('/') ? folder : folder + "/", StringComparison.Ordinal);
}
