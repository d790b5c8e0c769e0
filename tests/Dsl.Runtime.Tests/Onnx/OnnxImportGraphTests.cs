using Google.Protobuf;
using Onnx;
using Xunit;
using Xunit.Abstractions;
using static Dsl.Runtime.OnnxGraph;

namespace Dsl.Runtime.Tests.Onnx;

/// <summary>ONNX graphs written here with the protobuf classes, as other exporters write them: shape arithmetic before a
/// Reshape, MatMul + Add, Gemm with its options, SAME padding, opsets 7, 13 and 21 (whose Unsqueeze and Dropout take
/// their arguments differently); and the files and graphs the importer must refuse, each with its message.</summary>
public class OnnxImportGraphTests(ITestOutputHelper output)
{
    static readonly Random Rng = new(11);

    static float[] Random(int n, double scale = 1) => Enumerable.Range(0, n).Select(_ => (float)((Rng.NextDouble() * 2 - 1) * scale)).ToArray();

    static ModelProto Model(OnnxGraph g, int opset, string input, long[] inputDims, string output)
    {
        g.Graph.Input.Add(Value(input, inputDims));
        g.Graph.Output.Add(new ValueInfoProto { Name = output, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 1 } } });
        var m = new ModelProto { IrVersion = opset >= 21 ? 10 : 7, ProducerName = "test", Graph = g.Graph };
        m.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
        return m;
    }

    static string Save(ModelProto m, string name = "net")
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("dsl-import-graph-").FullName, name + ".onnx");
        File.WriteAllBytes(path, m.ToByteArray());
        return path;
    }

    /// <summary>A conv with SAME padding, leaky relu, max and average pooling, `x.view(x.size(0), -1)`'s shape arithmetic,
    /// MatMul + Add, batch norm on a vector, dropout, identity, a Gemm with B untransposed and alpha and beta, softmax.</summary>
    static ModelProto Chain(int opset)
    {
        var g = new OnnxGraph("chain");
        g.Initializer("w1", [4, 2, 3, 3], Random(72, 0.5));
        g.Initializer("b1", [4], Random(4));
        g.Node("Conv", "conv", ["x", "w1", "b1"], "c", Ints("kernel_shape", 3, 3), new AttributeProto { Name = "auto_pad", Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8("SAME_UPPER") });
        g.Node("LeakyRelu", "leaky", ["c"], "l", Float("alpha", 0.2));
        g.Node("MaxPool", "max", ["l"], "m", Ints("kernel_shape", 2, 2), Ints("strides", 2, 2));
        g.Node("AveragePool", "avg", ["m"], "a", Ints("kernel_shape", 3, 3), Ints("pads", 1, 1, 1, 1), Int("count_include_pad", 1));
        g.Node("Shape", "shape", ["a"], "s");
        g.Initializer("zero", [], [0L]);
        g.Node("Gather", "gather", ["s", "zero"], "n", Int("axis", 0));
        if (opset >= 13)
        {
            g.Initializer("axes", [1], [0L]);
            g.Node("Unsqueeze", "unsqueeze", ["n", "axes"], "n1");
        }
        else g.Node("Unsqueeze", "unsqueeze", ["n"], "n1", Ints("axes", 0));
        g.Initializer("minus1", [1], [-1L]);
        g.Node("Concat", "concat", ["n1", "minus1"], "target", Int("axis", 0));
        g.Node("Reshape", "reshape", ["a", "target"], "flat");
        g.Initializer("w2", [36, 10], Random(360, 0.3));
        g.Initializer("b2", [10], Random(10));
        g.Node("MatMul", "matmul", ["flat", "w2"], "mm");
        g.Node("Add", "add", ["mm", "b2"], "d");
        foreach (var (role, values) in new[] { ("gamma", Random(10)), ("beta", Random(10)), ("mean", Random(10)), ("var", Random(10).Select(v => v + 1.5f).ToArray()) })
            g.Initializer("bn." + role, [10], values);
        g.Node("BatchNormalization", "bn", ["d", "bn.gamma", "bn.beta", "bn.mean", "bn.var"], "bn", Float("epsilon", 1e-3));
        if (opset >= 12)
        {
            g.Initializer("ratio", [], [0.3f]);
            g.Node("Dropout", "dropout", ["bn", "ratio"], "dr");
        }
        else g.Node("Dropout", "dropout", ["bn"], "dr", Float("ratio", 0.3));
        g.Node("Identity", "identity", ["dr"], "id");
        g.Initializer("w3", [10, 5], Random(50, 4));
        g.Initializer("b3", [5], Random(5));
        g.Node("Gemm", "gemm", ["id", "w3", "b3"], "scores", Float("alpha", 0.5), Float("beta", 2));
        g.Node("Softmax", "softmax", ["scores"], "y", Int("axis", 1));
        return Model(g, opset, "x", [2, 6, 6], "y");
    }

    [Theory]
    [InlineData(7)]
    [InlineData(13)]
    [InlineData(21)]
    public void ExporterShapedChainsMatchOnnxRuntime(int opset)
    {
        var path = Save(Chain(opset));
        var (imported, worst) = OnnxImportFixtures.AssertMatchesOnnxRuntime(path, "chain", 3);
        var layers = imported.Network.Layers.Select(l => Dsl.Core.LayerModule.keyword(l.Node.Layer));
        Assert.Equal(["conv", "leaky-relu", "maxpool", "avgpool", "flatten", "dense", "batchnorm", "dropout", "dense", "softmax"], layers);
        output.WriteLine($"opset {opset}: largest difference from ONNX Runtime {worst:E2}");
    }

    /// <summary>The chain with its conv weights stored in a file beside the model, as exporters do past 2 GiB.</summary>
    [Fact]
    public void ExternalDataIsReadAndItsAbsenceNamed()
    {
        var m = Chain(13);
        var w1 = m.Graph.Initializer.Single(t => t.Name == "w1");
        var path = Save(m);
        File.WriteAllBytes(Path.Combine(Path.GetDirectoryName(path)!, "w1.bin"), [0, 0, 0, 0, .. w1.RawData.ToByteArray()]);
        w1.RawData = ByteString.Empty;
        w1.DataLocation = TensorProto.Types.DataLocation.External;
        w1.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = "w1.bin" });
        w1.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = "4" });
        File.WriteAllBytes(path, m.ToByteArray());
        OnnxImportFixtures.AssertMatchesOnnxRuntime(path, "chain", 2);

        File.Delete(Path.Combine(Path.GetDirectoryName(path)!, "w1.bin"));
        var e = Assert.Throws<OnnxImportException>(() => OnnxImport.Read(path, "chain"));
        Assert.Contains("tensor w1 keeps its data in w1.bin, which is missing", e.Message);
    }

    static ModelProto SmallConv(int opset, Action<OnnxGraph> more, string last, params AttributeProto[] convOptions)
    {
        var g = new OnnxGraph("small");
        g.Initializer("w", [3, 3, 3, 3], Random(81));
        g.Node("Conv", "conv", ["x", "w"], "c", [Ints("kernel_shape", 3, 3), .. convOptions]);
        more(g);
        return Model(g, opset, "x", [3, 8, 8], last);
    }

    [Fact]
    public void Float16WeightsAreConvertedAndSaid()
    {
        var m = SmallConv(13, g =>
        {
            g.Node("Flatten", "flatten", ["c"], "f", Int("axis", 1));
            g.Node("Softmax", "softmax", ["f"], "y", Int("axis", 1));
        }, "y");
        var w = m.Graph.Initializer.Single();
        var halves = new[] { 0.5f, -2f, 0.1f };
        w.DataType = (int)TensorProto.Types.DataType.Float16;
        w.RawData = ByteString.CopyFrom(Enumerable.Range(0, 81).SelectMany(i => BitConverter.GetBytes((Half)halves[i % 3])).ToArray());
        var imported = OnnxImport.Read(Save(m), "small");
        Assert.Contains("converted w (float16) to float32", imported.Notes);
        // 0.1 is not a float16: the nearest one, 0.0999755859375, is what the file holds.
        Assert.Equal([0.5f, -2f, 0.0999755859375f], imported.Weights["conv1.weight"].Take(3));
    }

    [Fact]
    public void QuantisedWeightsAreRefusedByName()
    {
        var m = SmallConv(13, _ => { }, "c");
        var w = m.Graph.Initializer.Single();
        w.DataType = (int)TensorProto.Types.DataType.Int8;
        w.RawData = ByteString.CopyFrom(new byte[81]);
        var e = Assert.Throws<OnnxImportException>(() => OnnxImport.Read(Save(m), "small"));
        Assert.Contains("initializer w is int8, a quantised weight", e.Message);
    }

    [Fact]
    public void AnOpenInputSizeAsksForInput()
    {
        var m = SmallConv(13, g =>
        {
            g.Node("GlobalAveragePool", "gap", ["c"], "p");
            g.Node("Flatten", "flatten", ["p"], "f", Int("axis", 1));
            g.Node("Softmax", "softmax", ["f"], "y", Int("axis", 1));
        }, "y");
        // Averages of random convolutions are small: larger weights keep the probabilities apart.
        m.Graph.Initializer.Single().RawData = ByteString.CopyFrom(System.Runtime.InteropServices.MemoryMarshal.AsBytes(Random(81, 20).AsSpan()));
        var dims = m.Graph.Input.Single().Type.TensorType.Shape.Dim;
        dims[2] = new TensorShapeProto.Types.Dimension { DimParam = "height" };
        dims[3] = new TensorShapeProto.Types.Dimension { DimParam = "width" };
        var path = Save(m);
        var e = Assert.Throws<OnnxImportException>(() => OnnxImport.Read(path, "small"));
        Assert.Contains("[?, 3, ?, ?], its size left open; give it with --input CxHxW", e.Message);
        // Given the size, the global pool over 6x6 is a 6x6 average pool.
        var (imported, _) = OnnxImportFixtures.AssertMatchesOnnxRuntime(path, "small", 2, Dsl.Core.Shape.NewChw(3, 8, 8));
        Assert.Contains(imported.Network.Layers, l => l.Node.Layer is Dsl.Core.Layer.Pool { Item.Size.Item1: 6 });
    }

    [Fact]
    public void EveryUnsupportedNodeIsListedWithThePositionOfTheFirst()
    {
        var m = SmallConv(13, g =>
        {
            g.Node("Clip", "clip", ["c"], "r");
            g.Node("Flatten", "flatten", ["r"], "f", Int("axis", 1));
            g.Node("Erf", "erf", ["f"], "y");
        }, "y", Ints("dilations", 2, 2));
        var e = Assert.Throws<OnnxImportException>(() => OnnxImport.Read(Save(m), "small"));
        output.WriteLine(e.Message);
        var lines = e.Message.Split('\n');
        Assert.Contains("3 of its 4 nodes have no dsl layer; the first is node 1 \"conv\" (Conv)", lines[0]);
        Assert.Contains("node 1 \"conv\" (Conv): dilations [2, 2]; dsl's windows have dilation 1", lines[1]);
        Assert.Contains("node 2 \"clip\" (Clip): dsl has no layer for Clip", lines[2]);
        Assert.Contains("node 4 \"erf\" (Erf): dsl has no layer for Erf", lines[3]);
        Assert.Equal("nothing was written", lines[^1]);
    }

    [Theory]
    [InlineData("Add")]
    [InlineData("Concat")]
    public void JoiningTwoPathsSaysTheLanguageIsALayerList(string op)
    {
        var m = SmallConv(13, g =>
        {
            g.Node("Relu", "relu", ["c"], "r");
            g.Initializer("w2", [3, 3, 3, 3], Random(81));
            g.Node("Conv", "conv2", ["r", "w2"], "c2", Ints("kernel_shape", 3, 3), Ints("pads", 1, 1, 1, 1));
            g.Node(op, "join", ["c2", "r"], "j", op == "Concat" ? new[] { Int("axis", 1) } : []);
            g.Node("Flatten", "flatten", ["j"], "f", Int("axis", 1));
            g.Node("Softmax", "softmax", ["f"], "y", Int("axis", 1));
        }, "y");
        var e = Assert.Throws<OnnxImportException>(() => OnnxImport.Read(Save(m), "small"));
        var lines = e.Message.Split('\n');
        Assert.Contains($"the first is node 4 \"join\" ({op})", lines[0]);
        Assert.Contains("joins c2 and r, a residual connection or a concatenation: a dsl network is a list of layers", lines[1]);
    }

    [Theory]
    [InlineData(6)]
    [InlineData(22)]
    public void OpsetsOutsideSevenToTwentyOneAreRefused(int opset)
    {
        var e = Assert.Throws<OnnxImportException>(() => OnnxImport.Read(Save(SmallConv(opset, _ => { }, "c")), "small"));
        Assert.Contains($"uses ONNX opset {opset}; dsl import reads opsets 7 to 21", e.Message);
    }

    [Fact]
    public void TruncatedAndForeignFilesAreOneClearLine()
    {
        var bytes = Chain(13).ToByteArray();
        var path = Save(Chain(13));
        foreach (var (what, content) in new[] { ("truncated", bytes[..(bytes.Length / 2)]), ("text", "network lenet\n  input 1 x 28 x 28\n"u8.ToArray()), ("empty", Array.Empty<byte>()) })
        {
            File.WriteAllBytes(path, content);
            var e = Assert.Throws<OnnxImportException>(() => OnnxImport.Read(path, "chain"));
            output.WriteLine($"{what}: {e.Message}");
            Assert.DoesNotContain('\n', e.Message);
            Assert.Matches("is not a readable ONNX model|holds no ONNX graph", e.Message);
        }
    }
}
