using System.Buffers.Binary;
using System.Diagnostics;
using Dsl.Runtime.Images;
using Xunit;
using Xunit.Abstractions;

namespace Dsl.Runtime.Tests.Images;

/// <summary>Mutated PNG, JPEG and WebP files fed to the loader: each must decode or be refused with a
/// <see cref="DataException"/>; no other exception, no hang, no large allocation for a header that lies.</summary>
public class LoaderFuzzTests(ITestOutputHelper output)
{
    const int Cases = 2000;
    /// <summary>A hang detector, not a speed check: the slowest case takes milliseconds.</summary>
    static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);

    static readonly string[] Corpus =
    [
        "rgb8.png", "palette-alpha.png", "greyalpha16.png", "grey1.png", "interlaced.png",
        "colour.jpg", "grey.jpg", "progressive.jpg", "cmyk.jpg", "orientation6.jpg",
        "lossless.webp", "lossy.webp", "alpha.webp",
    ];

    enum Mutation { FlippedBits, Truncated, HugeDimensions, RandomChunk, Overwritten }

    [Fact]
    public void TwoThousandMutantsDecodeOrAreRefused()
    {
        var files = Corpus.Select(n => (name: n, bytes: File.ReadAllBytes(TestFiles.Data(n)))).ToArray();
        // Each original once first: the slowest case then measures decoding, not loading Skia and compiling.
        foreach (var (name, bytes) in files) Image.Decode(bytes, name);
        var rng = new Random(2026);
        var counts = Enum.GetValues<Mutation>().ToDictionary(m => m, _ => (decoded: 0, refused: 0));
        var slowest = (ms: 0.0, name: "");
        long mostAllocated = 0;
        var failures = new List<string>();
        for (int i = 0; i < Cases; i++)
        {
            var (name, original) = files[i % files.Length];
            var mutation = (Mutation)rng.Next(5);
            var mutant = Mutate(original, name, mutation, rng);
            var label = $"case {i}: {name}, {mutation}";
            var run = Task.Run(() =>
            {
                long before = GC.GetAllocatedBytesForCurrentThread();
                var clock = Stopwatch.StartNew();
                bool refused = false;
                string? error = null;
                try { Image.Decode(mutant, label); }
                catch (DataException) { refused = true; }
                catch (Exception e) { (refused, error) = (true, $"{label}: {e.GetType().Name}: {e.Message}"); }
                return (refused, ms: clock.Elapsed.TotalMilliseconds, allocated: GC.GetAllocatedBytesForCurrentThread() - before, error);
            });
            if (!run.Wait(Limit)) { failures.Add($"{label}: no answer within {Limit.TotalSeconds} s"); break; }
            if (run.Result.error is string error) failures.Add(error);
            var c = counts[mutation];
            counts[mutation] = run.Result.refused ? (c.decoded, c.refused + 1) : (c.decoded + 1, c.refused);
            if (run.Result.ms > slowest.ms) slowest = (run.Result.ms, label);
            mostAllocated = Math.Max(mostAllocated, run.Result.allocated);
        }
        output.WriteLine($"{Cases} cases over {files.Length} files, seed 2026");
        foreach (var (m, (decoded, refused)) in counts) output.WriteLine($"  {m}: {decoded + refused} cases, {refused} refused, {decoded} decoded");
        output.WriteLine($"refused in all: {counts.Values.Sum(c => c.refused)}; slowest: {slowest.ms:F1} ms ({slowest.name}); most managed memory for one case: {mostAllocated / 1024} KiB; process peak working set: {Process.GetCurrentProcess().PeakWorkingSet64 >> 20} MiB");
        Assert.Empty(failures);
        // The originals are at most 40x24; a header that lies within the plausible area costs at most 16 MiB of RGBA.
        Assert.True(mostAllocated < 20 << 20, $"one case allocated {mostAllocated >> 20} MiB");
    }

    static byte[] Mutate(byte[] original, string name, Mutation mutation, Random rng)
    {
        var file = (byte[])original.Clone();
        switch (mutation)
        {
            case Mutation.FlippedBits:
                for (int k = rng.Next(1, 9); k > 0; k--) file[rng.Next(file.Length)] ^= (byte)(1 << rng.Next(8));
                return file;
            case Mutation.Truncated:
                return file[..rng.Next(file.Length)];
            case Mutation.HugeDimensions:
                DeclareSize(file, name, rng);
                return file;
            case Mutation.RandomChunk:
                // Random bytes, or a slice of the file itself (a repeated marker or chunk), put in at a random place.
                int at = rng.Next(file.Length + 1);
                byte[] chunk;
                if (rng.Next(2) == 0) { chunk = new byte[rng.Next(1, 257)]; rng.NextBytes(chunk); }
                else { int from = rng.Next(file.Length); chunk = file[from..Math.Min(file.Length, from + rng.Next(1, 65))]; }
                return [.. file[..at], .. chunk, .. file[at..]];
            default:
                int start = rng.Next(file.Length), length = Math.Min(file.Length - start, rng.Next(1, 33));
                rng.NextBytes(file.AsSpan(start, length));
                return file;
        }
    }

    /// <summary>Writes a large width and height where the format keeps them, with the checksum fixed where there is one,
    /// so the lie reaches the decoder rather than failing a CRC.</summary>
    static void DeclareSize(byte[] file, string name, Random rng)
    {
        int Big(int max) => rng.Next(2) == 0 ? max : rng.Next(max / 16, max);
        if (name.EndsWith(".png"))
        {
            BinaryPrimitives.WriteInt32BigEndian(file.AsSpan(16), Big(1 << 20));
            BinaryPrimitives.WriteInt32BigEndian(file.AsSpan(20), Big(1 << 20));
            BinaryPrimitives.WriteUInt32BigEndian(file.AsSpan(29), TestFiles.ZlibCrc(file.AsSpan(12, 17)));
        }
        else if (name.EndsWith(".jpg"))
        {
            // The frame header: FFC0 (baseline) or FFC2 (progressive), length, precision, then height and width.
            for (int i = 2; i + 9 < file.Length; i++)
                if (file[i] == 0xFF && file[i + 1] is 0xC0 or 0xC2)
                {
                    BinaryPrimitives.WriteUInt16BigEndian(file.AsSpan(i + 5), (ushort)Big(65535));
                    BinaryPrimitives.WriteUInt16BigEndian(file.AsSpan(i + 7), (ushort)Big(65535));
                    return;
                }
        }
        else
        {
            // VP8L: a signature byte, then 14 bits each of width - 1 and height - 1. VP8: after a start code, 14 bits each.
            int vp8l = file.AsSpan().IndexOf("VP8L"u8), vp8 = file.AsSpan().IndexOf("VP8 "u8);
            if (vp8l >= 0)
            {
                uint bits = BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(vp8l + 9));
                uint w = (uint)Big(16384) - 1, h = (uint)Big(16384) - 1;
                bits = (bits & 0xF000_0000) | (w & 0x3FFF) | ((h & 0x3FFF) << 14);
                BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(vp8l + 9), bits);
            }
            else if (vp8 >= 0)
            {
                BinaryPrimitives.WriteUInt16LittleEndian(file.AsSpan(vp8 + 14), (ushort)(Big(16384) - 1));
                BinaryPrimitives.WriteUInt16LittleEndian(file.AsSpan(vp8 + 16), (ushort)(Big(16384) - 1));
            }
        }
    }
}
