using System.Buffers.Binary;
using System.Text;
using Dsl.Runtime.Cpu;
using Dsl.Runtime.Data;
using Xunit;

namespace Dsl.Runtime.Tests;

/// <summary>The safetensors reader trusts nothing a header says: crafted headers, NaN tensors and random mutations end
/// in a refusal that names the file, never an exception of another kind or a load of the wrong bytes.</summary>
public class SafeTensorsTests(Xunit.Abstractions.ITestOutputHelper output)
{
    static string Temp(string name) => Path.Combine(Directory.CreateTempSubdirectory("dsl-st-").FullName, name);

    /// <summary>A file built by hand, as another tool would write it: header JSON, padding, then the data.</summary>
    static string Craft(string headerJson, byte[] data, long? claimedLength = null)
    {
        var json = Encoding.UTF8.GetBytes(headerJson);
        var bytes = new byte[8 + json.Length + data.Length];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, claimedLength ?? json.Length);
        json.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + json.Length);
        var path = Temp("crafted.safetensors");
        File.WriteAllBytes(path, bytes);
        return path;
    }

    static byte[] Floats(params float[] v) => v.SelectMany(BitConverter.GetBytes).ToArray();

    static string Refusal(string path) => Assert.Throws<DataException>(() => SafeTensors.Read(path)).Message;

    [Fact]
    public void AHandWrittenFileLoadsWithItsShapes()
    {
        var path = Craft("""{"b":{"dtype":"F32","shape":[2],"data_offsets":[24,32]},"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}}""",
            Floats(1, 2, 3, 4, 5, 6, 7, 8));
        var (t, _) = SafeTensors.Read(path);
        Assert.Equal(new float[] { 1, 2, 3, 4, 5, 6 }, t["a"].Values);
        Assert.Equal(new long[] { 2, 3 }, t["a"].Shape);
        Assert.Equal(new float[] { 7, 8 }, t["b"].Values);
    }

    [Theory]
    [InlineData(long.MaxValue, "header length 9223372036854775807")]
    [InlineData(-8, "header length -8 is not positive")]
    [InlineData(1000, "beyond the file")]
    public void AHeaderLengthTheFileCannotHoldIsRefused(long claimed, string expected)
    {
        var path = Craft("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", Floats(1), claimed);
        var m = Refusal(path);
        Assert.Contains(path, m);
        Assert.Contains(expected, m);
    }

    [Theory]
    [InlineData("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", "tensor a", "not byte positions")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", "tensor b", "overlap")]
    [InlineData("""{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]},"b":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}}""", "tensor a", "end before they begin")]
    [InlineData("""{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},"b":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}}""", "tensor b", "beyond the file")]
    [InlineData("""{"a":{"dtype":"F16","shape":[6],"data_offsets":[0,12]}}""", "tensor a", "dtype F16")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}}""", "tensor a", "needs 16 bytes")]
    [InlineData("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}""", "tensor b", "nothing lies in bytes 4..8")]
    [InlineData("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", "", "the file holds 12 bytes")]
    [InlineData("""{"a":{"dtype":"F32","shape":[-3],"data_offsets":[0,12]}}""", "tensor a", "not a list of sizes")]
    [InlineData("""{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}}""", "tensor a", "appears twice")]
    [InlineData("""[1,2,3]""", "", "not a JSON object")]
    [InlineData("""{"a":{"dtype":"F32","shape":[3],""", "", "not JSON")]
    [InlineData("""{"__metadata__":{"x":1},"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}}""", "", "metadata x is not a string")]
    public void AnInconsistentHeaderIsRefusedNamingTheTensor(string header, string tensor, string expected)
    {
        var path = Craft(header, Floats(1, 2, 3));
        var m = Refusal(path);
        Assert.Contains(path, m);
        Assert.Contains(tensor, m);
        Assert.Contains(expected, m);
    }

    [Fact]
    public void ATensorHoldingNaNIsRefusedOnReadAndNeverWritten()
    {
        var path = Craft("""{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}}""", Floats(1, float.NaN, 3));
        Assert.Contains("tensor w holds NaN at index 1", Refusal(path));

        var good = Temp("good.safetensors");
        SafeTensors.Save(good, [("w", new float[] { 1, 2, 3 })]);
        var before = File.ReadAllBytes(good);
        var e = Assert.Throws<DataException>(() => SafeTensors.Save(good, [("w", new float[] { 1, float.PositiveInfinity, 3 })]));
        Assert.Contains("tensor w holds ∞", e.Message.Replace("Infinity", "∞"));
        Assert.Equal(before, File.ReadAllBytes(good));
        Assert.Equal([good], Directory.GetFiles(Path.GetDirectoryName(good)!));
    }

    [Fact]
    public void FilesWrittenFlatBeforeShapesStillLoad()
    {
        // The previous version's layout: every tensor flat, header padded with spaces to 8 bytes.
        var header = """{"__metadata__":{"format":"dsl"},"conv1.weight":{"dtype":"F32","shape":[6],"data_offsets":[0,24]}}""";
        var path = Craft(header + new string(' ', (8 - header.Length % 8) % 8), Floats(1, 2, 3, 4, 5, 6));
        var (t, meta) = SafeTensors.Read(path);
        Assert.Equal("dsl", meta["format"]);
        Assert.Equal(new long[] { 6 }, t["conv1.weight"].Shape);
    }

    [Fact]
    public void WeightsAreWrittenWithTheShapesPyTorchGivesThem()
    {
        var net = Networks.Text("""
            network s
              input 3 x 8 x 8
              conv 4 kernel 3 groups 1 |> relu
              batchnorm
              flatten
              dense classes
              softmax
            """, 5);
        var plan = Compiler.MemoryPlan.compile(Core.PlanMode.Training, 2, net);
        using var device = new CpuDevice();
        using var parameters = new ParameterSet(device, plan, 1, Core.Optimizer.NewSgd(0.1, 0.9, false, 0));
        var path = Temp("w.safetensors");
        SafeTensors.Save(path, parameters.State.Select(n => (n, parameters.Read(n))), null, parameters.ShapeOf);
        // Read back by hand (not by our reader): the JSON header's shapes.
        var bytes = File.ReadAllBytes(path);
        using var doc = System.Text.Json.JsonDocument.Parse(bytes.AsMemory(8, (int)BitConverter.ToInt64(bytes)));
        long[] Shape(string n) => doc.RootElement.GetProperty(n).GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray();
        Assert.Equal(new long[] { 4, 3, 3, 3 }, Shape("conv1.weight"));
        Assert.Equal(new long[] { 4, 3, 3, 3 }, Shape("conv1.weight.opt1"));
        Assert.Equal(new long[] { 4 }, Shape("conv1.bias"));
        Assert.Equal(new long[] { 5, 144 }, Shape("dense1.weight"));
        Assert.Equal(new long[] { 4 }, Shape("batchnorm1.running_mean"));

        // A file shaped for another network of the same size is refused by shape, naming the tensor.
        var wrong = parameters.Weights.ToDictionary(n => n, n => new StoredTensor(parameters.Read(n), parameters.ShapeOf(n)));
        wrong["dense1.weight"] = wrong["dense1.weight"] with { Shape = [144, 5] };
        var report = parameters.LoadMatching(wrong);
        Assert.Contains("dense1.weight (shape [144, 5] in the file, [5, 144] in the network)", report.Skipped);
    }

    /// <summary>1,000 mutations of a valid file (bytes flipped in the header and the data, truncation, bytes appended,
    /// header lengths changed): each ends in a load or a DataException naming the file, and a load is only
    /// ever of finite values whose byte ranges lie inside the file.</summary>
    [Fact]
    public void AThousandMutatedFilesLoadOrAreRefusedClearly()
    {
        var original = Temp("seed.safetensors");
        var values = Enumerable.Range(0, 40).Select(i => (float)i / 7).ToArray();
        SafeTensors.Save(original, [("a.weight", values[..24]), ("a.bias", values[24..28]), ("b.weight", values[28..])],
            new Dictionary<string, string> { ["format"] = "dsl", ["loop"] = "{\"Epoch\":1}" }, n => n == "a.weight" ? [2, 3, 2, 2] : null);
        var seed = File.ReadAllBytes(original);
        int headerEnd = 8 + (int)BitConverter.ToInt64(seed);
        var rng = new Random(12);
        var path = Temp("mutant.safetensors");
        int loaded = 0, refused = 0;
        for (int i = 0; i < 1000; i++)
        {
            var bytes = seed.ToArray();
            switch (i % 5)
            {
                case 0: // a byte of the header changed: digits, brackets, quotes
                    bytes[rng.Next(8, headerEnd)] = (byte)"0123456789[]{}\",:-e. FI"[rng.Next(23)];
                    break;
                case 1: // truncated anywhere
                    bytes = bytes[..rng.Next(bytes.Length)];
                    break;
                case 2: // the header length changed
                    BinaryPrimitives.WriteInt64LittleEndian(bytes, i % 2 == 0 ? rng.NextInt64() : BitConverter.ToInt64(seed) + rng.Next(-16, 17));
                    break;
                case 3: // random bytes anywhere (data bytes can become NaN)
                    for (int k = 0; k < 4; k++) bytes[rng.Next(bytes.Length)] = (byte)rng.Next(256);
                    break;
                case 4: // bytes appended
                    bytes = [.. bytes, .. Enumerable.Range(0, rng.Next(1, 12)).Select(_ => (byte)rng.Next(256))];
                    break;
            }
            File.WriteAllBytes(path, bytes);
            try
            {
                var (t, _) = SafeTensors.Read(path);
                Assert.All(t.Values, v => Assert.All(v.Values, f => Assert.True(float.IsFinite(f))));
                Assert.True(t.Values.Sum(v => 4L * v.Values.Length) <= bytes.Length);
                loaded++;
            }
            catch (DataException e)
            {
                Assert.Contains(path, e.Message);
                refused++;
            }
        }
        output.WriteLine($"{loaded} loaded, {refused} refused");
        Assert.Equal(1000, loaded + refused);
        Assert.True(refused > 500, $"{refused} refused");
    }
}
