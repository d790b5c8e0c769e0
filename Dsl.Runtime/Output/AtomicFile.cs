namespace Dsl.Runtime.Output;

/// <summary>Every file a run writes goes through a temporary file beside it and a rename: a reader, a killed run or a
/// full disk never leaves half a file in the place of a whole one. A failed write removes the temporary file (so a
/// full disk is not kept full by it) and says which path could not be written.</summary>
public static class AtomicFile
{
    public static void Write(string path, Action<Stream> write)
    {
        var tmp = $"{path}.{Environment.ProcessId}.tmp";
        try
        {
            using (var f = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                write(f);
                f.Flush(flushToDisk: true);
            }
            File.Move(tmp, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try { File.Delete(tmp); }
            catch (Exception x) when (x is IOException or UnauthorizedAccessException) { } // the message below is what matters
            throw new OutputException($"cannot write {path}: {Reason(e)}" +
                (File.Exists(path) ? "; the previous file is left as it was" : ""), e);
        }
    }

    public static void WriteBytes(string path, byte[] bytes) => Write(path, s => s.Write(bytes));

    public static void WriteText(string path, string text) => Write(path, s =>
    {
        using var w = new StreamWriter(s, leaveOpen: true);
        w.Write(text);
    });

    /// <summary>The system's words without .NET's ": '/the/path'" tail, which the message already names.</summary>
    public static string Reason(Exception e)
    {
        var m = e.Message;
        int at = m.IndexOf(" : '", StringComparison.Ordinal);
        if (at > 0) m = m[..at];
        if (e is UnauthorizedAccessException) m = "permission denied";
        // /proc and the like: the parent exists but takes no new entries, and .NET words it as a missing file.
        if (e is FileNotFoundException or DirectoryNotFoundException) m = "the file system there takes no new files (or the folder above is missing)";
        return m.TrimEnd('.');
    }
}
