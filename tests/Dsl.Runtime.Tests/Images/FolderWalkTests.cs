using System.Diagnostics;
using Dsl.Runtime.Data;
using Dsl.Runtime.Images;
using Xunit;

namespace Dsl.Runtime.Tests.Images;

/// <summary>Walking an image folder: links, FIFOs, unreadable folders and degenerate class sets are found, never
/// followed into loops or silently turned into samples.</summary>
public class FolderWalkTests
{
    static byte[] Png1(byte level) => new Image(4, 4, 1, Enumerable.Repeat(level, 16).ToArray()).ToPng();

    /// <summary>Classes a and b with <paramref name="perClass"/> images each, the level telling the class (a 10, b 200).</summary>
    static string TwoClasses(int perClass)
    {
        var root = TestFiles.TempDir();
        foreach (var (name, level) in new[] { ("a", (byte)10), ("b", (byte)200) })
        {
            var dir = Directory.CreateDirectory(Path.Combine(root, name)).FullName;
            for (int i = 0; i < perClass; i++) File.WriteAllBytes(Path.Combine(dir, $"{i}.png"), Png1(level));
        }
        return root;
    }

    static void Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{file} {string.Join(" ", args)}: {p.StandardError.ReadToEnd()}");
    }

    [Fact]
    public void LinkLoopsAndLinksAcrossClassesAddNoSamples()
    {
        var root = TwoClasses(5);
        File.CreateSymbolicLink(Path.Combine(root, "a", "up"), "..");            // the data folder itself, again
        File.CreateSymbolicLink(Path.Combine(root, "a", "me"), ".");             // a loop on itself
        File.CreateSymbolicLink(Path.Combine(root, "b", "other"), "../a");       // the other class, under the wrong label
        File.CreateSymbolicLink(Path.Combine(root, "b", "away"), "/usr/share");  // out of the data folder
        File.CreateSymbolicLink(Path.Combine(root, "b", "gone"), "nothing-here");
        Directory.CreateDirectory(Path.Combine(root, "a", "deeper"));
        File.CreateSymbolicLink(Path.Combine(root, "a", "deeper", "loop"), "../..");
        // A link to a file counts as the file it names, once; a link to a folder inside the data folder not read yet is
        // followed, and its x.png, met there as a file, is counted there instead of through the link to it.
        var extra = Directory.CreateDirectory(Path.Combine(root, ".store")).FullName;
        File.WriteAllBytes(Path.Combine(extra, "x.png"), Png1(200));
        File.CreateSymbolicLink(Path.Combine(root, "b", "linked.png"), Path.Combine(extra, "x.png"));
        File.CreateSymbolicLink(Path.Combine(root, "b", "store"), extra);

        var (set, skipped) = ImageFolder.Load(root, 1, 4);
        Assert.Equal(11, set.Count);
        Assert.Equal(5, set.Labels.Count(l => l == 0));
        for (int i = 0; i < set.Count; i++) Assert.Equal(set.Labels[i] == 0 ? 10 : 200, set.Image(i)[0]);
        var reasons = skipped.ToDictionary(s => Path.GetRelativePath(root, s.Path), s => s.Reason);
        Assert.Equal(["a/deeper/loop", "a/me", "a/up", "b/away", "b/gone", "b/linked.png", "b/other"], reasons.Keys.Order(StringComparer.Ordinal));
        Assert.Contains($"a link to {Path.Combine(root, "b", "store", "x.png")}, which is counted where it is", reasons["b/linked.png"]);
        Assert.Contains("already read", reasons["a/up"]);
        Assert.Contains("already read", reasons["b/other"]);
        Assert.Contains("outside the data folder", reasons["b/away"]);
        Assert.Contains("link to nothing", reasons["b/gone"]);
    }

    [Fact]
    public void AFileLinkedIntoAnotherClassCountsOnceUnderItsOwnClass()
    {
        var root = TwoClasses(3);
        // a/stolen.png links to b's 0.png, and a is walked first; b/relative.png links to a's 2.png; a/twin.png is a's
        // 1.png again (a hard link). Each is one image, counted where the file is (the first path met, for hard links).
        File.CreateSymbolicLink(Path.Combine(root, "a", "stolen.png"), Path.Combine(root, "b", "0.png"));
        File.CreateSymbolicLink(Path.Combine(root, "b", "relative.png"), "../a/2.png");
        Run("ln", Path.Combine(root, "a", "1.png"), Path.Combine(root, "a", "twin.png"));

        var (set, skipped) = ImageFolder.Load(root, 1, 4);
        Assert.Equal(6, set.Count);
        Assert.Equal(3, set.Labels.Count(l => l == 0));
        // Every image is under its own class's label (a's are level 10, b's 200): none counted under the other's.
        for (int i = 0; i < set.Count; i++) Assert.Equal(set.Labels[i] == 0 ? 10 : 200, set.Image(i)[0]);
        var reasons = skipped.ToDictionary(s => Path.GetRelativePath(root, s.Path), s => s.Reason);
        Assert.Equal(["a/stolen.png", "a/twin.png", "b/relative.png"], reasons.Keys.Order(StringComparer.Ordinal));
        Assert.Contains($"a link to {Path.Combine(root, "b", "0.png")}, which is counted where it is", reasons["a/stolen.png"]);
        Assert.Contains($"the same file as {Path.Combine(root, "a", "2.png")}, which is counted there", reasons["b/relative.png"]);
        Assert.Contains($"the same file as {Path.Combine(root, "a", "1.png")}", reasons["a/twin.png"]);
    }

    [Fact]
    public void AFifoInTheFolderIsListedWithoutBeingOpened()
    {
        if (!OperatingSystem.IsLinux()) return;
        var root = TwoClasses(3);
        Run("mkfifo", Path.Combine(root, "a", "pipe.png"));
        File.CreateSymbolicLink(Path.Combine(root, "b", "null.png"), "/dev/null");
        // Opening the FIFO would block this test forever: finishing at all is the check.
        var (set, skipped) = ImageFolder.Load(root, 1, 4);
        Assert.Equal(6, set.Count);
        Assert.Equal(2, skipped.Count);
        Assert.Contains("FIFO", skipped.Single(s => s.Path.EndsWith("pipe.png")).Reason);
        Assert.Contains("character device", skipped.Single(s => s.Path.EndsWith("null.png")).Reason);
    }

    [Fact]
    public void AnUnreadableFolderIsListedAndAClassLeftEmptyIsRefused()
    {
        if (!OperatingSystem.IsLinux() || Environment.UserName == "root" && !CanDropRead()) return;
        var root = TwoClasses(3);
        var locked = Directory.CreateDirectory(Path.Combine(root, "a", "locked")).FullName;
        File.WriteAllBytes(Path.Combine(locked, "x.png"), Png1(10));
        File.SetUnixFileMode(locked, UnixFileMode.None);
        try
        {
            var (set, skipped) = ImageFolder.Load(root, 1, 4);
            Assert.Equal(6, set.Count);
            Assert.Contains("cannot be read", Assert.Single(skipped, s => s.Path == locked).Reason);

            File.SetUnixFileMode(Path.Combine(root, "b"), UnixFileMode.None);
            var e = Assert.Throws<DataException>(() => ImageFolder.Load(root, 1, 4));
            Assert.Contains(Path.Combine(root, "b"), e.Message);
            Assert.Contains("no readable image", e.Message);
        }
        finally
        {
            File.SetUnixFileMode(locked, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            File.SetUnixFileMode(Path.Combine(root, "b"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    /// <summary>Root reads any folder whatever its mode; the test then has nothing to show.</summary>
    static bool CanDropRead()
    {
        var d = TestFiles.TempDir();
        File.SetUnixFileMode(d, UnixFileMode.None);
        try { Directory.EnumerateFiles(d).ToArray(); return false; }
        catch (UnauthorizedAccessException) { return true; }
        finally { File.SetUnixFileMode(d, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute); }
    }

    [Fact]
    public void EmptyAndSingleClassFoldersAreRefused()
    {
        var root = TwoClasses(2);
        Directory.CreateDirectory(Path.Combine(root, "c"));
        var e = Assert.Throws<DataException>(() => ImageFolder.Load(root, 1, 4));
        Assert.Contains(Path.Combine(root, "c"), e.Message);

        var single = TestFiles.TempDir();
        File.WriteAllBytes(Path.Combine(Directory.CreateDirectory(Path.Combine(single, "only")).FullName, "x.png"), Png1(1));
        Assert.Contains("one class folder (only)", Assert.Throws<DataException>(() => ImageFolder.Load(single, 1, 4)).Message);
    }

    [Fact]
    public void TwoClassFoldersThatAreOneFolderAreRefused()
    {
        var root = TwoClasses(2);
        File.CreateSymbolicLink(Path.Combine(root, "c"), Path.Combine(root, "a"));
        Assert.Contains("are the same folder", Assert.Throws<DataException>(() => ImageFolder.Load(root, 1, 4)).Message);
    }

    [Fact]
    public void TheSummaryCountsEachClass()
    {
        var root = TwoClasses(3);
        File.WriteAllBytes(Path.Combine(root, "b", "3.png"), Png1(200));
        var (train, test, _) = ImageFolder.LoadSplit(root, 1, 4, 0.25, 1);
        Assert.Equal($"image folder {root}: 2 classes, 7 images: a 3, b 4", ImageFolder.Summary(root, train, test));
    }
}
