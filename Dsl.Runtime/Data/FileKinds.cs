using System.Runtime.InteropServices;

namespace Dsl.Runtime.Data;

/// <summary>What a path is, as the file system says it without opening it: .NET's FileInfo cannot tell a FIFO or a
/// device from a regular file, and opening a FIFO blocks until a writer comes.</summary>
public enum FileKind { Missing, Regular, Directory, Link, Fifo, CharDevice, BlockDevice, Socket }

/// <summary>A path's kind and identity (device and inode), from statx on Linux; elsewhere from .NET, which knows
/// only files, folders and links, with the full path standing in for the identity.</summary>
public static class FileKinds
{
    public readonly record struct Info(FileKind Kind, string Identity);

    /// <summary>The path itself (<paramref name="followLinks"/> false) or what its links lead to.</summary>
    public static Info Stat(string path, bool followLinks)
    {
        if (OperatingSystem.IsLinux()) return StatLinux(path, followLinks);
        var info = new FileInfo(path);
        if (!followLinks && info.LinkTarget is not null) return new(FileKind.Link, info.FullName);
        var target = info.LinkTarget is not null ? info.ResolveLinkTarget(true) : info;
        if (target is null || !target.Exists && !Directory.Exists(target.FullName)) return new(FileKind.Missing, path);
        return new(Directory.Exists(target.FullName) ? FileKind.Directory : FileKind.Regular, target.FullName);
    }

    /// <summary>The canonical path, every link and `..` resolved; the path made full where the system cannot say.</summary>
    public static string RealPath(string path)
    {
        if (!OperatingSystem.IsLinux()) return Path.GetFullPath(path);
        var p = realpath(path, IntPtr.Zero);
        if (p == IntPtr.Zero) return Path.GetFullPath(path);
        try { return Marshal.PtrToStringUTF8(p)!; }
        finally { free(p); }
    }

    /// <summary>A refusal for anything but a regular file (a folder, a FIFO, a device), so nothing blocks on it or reads forever; null for a file.</summary>
    public static string? NotARegularFile(string path) => Stat(path, followLinks: true).Kind switch
    {
        FileKind.Regular => null,
        FileKind.Missing => "no such file",
        FileKind.Directory => "is a folder, not an image file",
        var k => $"is not a regular file but {Describe(k)}; not opened",
    };

    public static string Describe(FileKind kind) => kind switch
    {
        FileKind.Fifo => "a FIFO (named pipe)",
        FileKind.CharDevice => "a character device",
        FileKind.BlockDevice => "a block device",
        FileKind.Socket => "a socket",
        FileKind.Link => "a link",
        FileKind.Directory => "a folder",
        FileKind.Missing => "missing",
        _ => "a file",
    };

    const int AtFdCwd = -100, AtSymlinkNoFollow = 0x100, StatxType = 0x1, StatxIno = 0x100;

    // struct statx is the same on every Linux architecture: stx_mode at 28, stx_ino at 32, stx_dev_major/minor at 136/140.
    static Info StatLinux(string path, bool followLinks)
    {
        Span<byte> buf = stackalloc byte[256];
        int rc;
        unsafe
        {
            fixed (byte* b = buf) rc = statx(AtFdCwd, path, followLinks ? 0 : AtSymlinkNoFollow, StatxType | StatxIno, b);
        }
        if (rc != 0) return new(FileKind.Missing, path);
        int mode = BitConverter.ToUInt16(buf[28..]) & 0xF000;
        var kind = mode switch
        {
            0x8000 => FileKind.Regular,
            0x4000 => FileKind.Directory,
            0xA000 => FileKind.Link,
            0x1000 => FileKind.Fifo,
            0x2000 => FileKind.CharDevice,
            0x6000 => FileKind.BlockDevice,
            0xC000 => FileKind.Socket,
            _ => FileKind.Missing,
        };
        return new(kind, $"{BitConverter.ToUInt32(buf[136..])}:{BitConverter.ToUInt32(buf[140..])}:{BitConverter.ToUInt64(buf[32..])}");
    }

    [DllImport("libc", SetLastError = true)]
    static extern unsafe int statx(int dirfd, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, byte* statxbuf);

    [DllImport("libc")]
    static extern IntPtr realpath([MarshalAs(UnmanagedType.LPUTF8Str)] string path, IntPtr resolved);

    [DllImport("libc")]
    static extern void free(IntPtr p);
}
