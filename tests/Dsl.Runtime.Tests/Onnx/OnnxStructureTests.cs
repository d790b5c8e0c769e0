using Dsl.Compiler;
using Onnx;
using Xunit;

namespace Dsl.Runtime.Tests.Onnx;

/// <summary>The exported bytes, read back with the generated ONNX classes: the operators, their attributes, the
/// initializers with their ONNX shapes and values, and the declared input and output.</summary>
public class OnnxStructureTests
{
    static ModelProto RoundTrip(Shapes.Inferred network, Dictionary<string, float[]> weights) =>
        ModelProto.Parser.ParseFrom(OnnxExport.ToBytes(network, weights));

    static NodeProto Node(ModelProto m, string name) => m.Graph.Node.Single(n => n.Name == name);

    static AttributeProto Attr(NodeProto n, string name) => n.Attribute.Single(a => a.Name == name);

    static string[] Dims(ValueInfoProto v) =>
        v.Type.TensorType.Shape.Dim.Select(d => d.HasDimParam ? d.DimParam : d.DimValue.ToString()).ToArray();

    static void AssertInitializer(ModelProto m, Dictionary<string, float[]> weights, string name, params long[] dims)
    {
        var t = m.Graph.Initializer.Single(i => i.Name == name);
        Assert.Equal(dims, t.Dims);
        Assert.Equal((int)TensorProto.Types.DataType.Float, t.DataType);
        // SequenceEqual, not Assert.Equal: AlexNet's dense1 has 37 million values.
        Assert.True(weights[name].AsSpan().SequenceEqual(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(t.RawData.Span)), $"{name}'s values differ");
    }

    [Fact]
    public void LenetIsItsLayersInOrder()
    {
        var net = Networks.Model("lenet.model", 10);
        var weights = OnnxFixtures.Weights(net, 1);
        var m = RoundTrip(net, weights);

        Assert.Equal(OnnxExport.Opset, m.OpsetImport.Single(o => o.Domain == "").Version);
        Assert.Equal("lenet", m.Graph.Name);
        Assert.Equal(["Conv", "Relu", "MaxPool", "Conv", "Relu", "MaxPool", "Flatten", "Gemm", "Relu", "Gemm", "Softmax"],
            m.Graph.Node.Select(n => n.OpType));
        Assert.Equal(["batch", "1", "28", "28"], Dims(m.Graph.Input.Single(i => i.Name == "input")));
        Assert.Equal(["batch", "10"], Dims(m.Graph.Output.Single(o => o.Name == "probabilities")));
        Assert.Equal(["batch", "64", "7", "7"], Dims(m.Graph.ValueInfo.Single(v => v.Name == "pool2")));

        var conv1 = Node(m, "conv1");
        Assert.Equal(["input", "conv1.weight", "conv1.bias"], conv1.Input);
        Assert.Equal([5L, 5], Attr(conv1, "kernel_shape").Ints);
        Assert.Equal([2L, 2, 2, 2], Attr(conv1, "pads").Ints);
        Assert.Equal([2L, 2], Attr(Node(m, "pool1"), "kernel_shape").Ints);
        Assert.Equal([0L, 0, 0, 0], Attr(Node(m, "pool1"), "pads").Ints);
        Assert.Equal(1, Attr(Node(m, "dense1"), "transB").I);
        Assert.Equal(1, Attr(Node(m, "softmax1"), "axis").I);
        // Dropout is the identity at inference: dense2 reads relu3 directly.
        Assert.Equal("relu3", Node(m, "dense2").Input[0]);

        AssertInitializer(m, weights, "conv1.weight", 32, 1, 5, 5);
        AssertInitializer(m, weights, "conv2.weight", 64, 32, 5, 5);
        AssertInitializer(m, weights, "conv2.bias", 64);
        AssertInitializer(m, weights, "dense1.weight", 512, 3136);
        AssertInitializer(m, weights, "dense2.weight", 10, 512);
        Assert.Equal(weights.Count, m.Graph.Initializer.Count);
    }

    [Fact]
    public void AlexNetKeepsGroupsAndConvertsLrnAlpha()
    {
        var net = Networks.Model("alexnet.model", 1000);
        var weights = OnnxFixtures.Weights(net, 2);
        var m = RoundTrip(net, weights);

        Assert.Equal(["Conv", "Relu", "LRN", "MaxPool", "Conv", "Relu", "LRN", "MaxPool", "Conv", "Relu", "Conv", "Relu", "Conv", "Relu",
            "MaxPool", "Flatten", "Gemm", "Relu", "Gemm", "Relu", "Gemm", "Softmax"], m.Graph.Node.Select(n => n.OpType));
        Assert.Equal(["batch", "3", "227", "227"], Dims(m.Graph.Input.Single()));
        Assert.Equal(["batch", "1000"], Dims(m.Graph.Output.Single()));
        Assert.Equal([4L, 4], Attr(Node(m, "conv1"), "strides").Ints);
        Assert.Equal(1, Attr(Node(m, "conv1"), "group").I);
        foreach (var conv in new[] { "conv2", "conv4", "conv5" }) Assert.Equal(2, Attr(Node(m, conv), "group").I);
        AssertInitializer(m, weights, "conv2.weight", 256, 48, 5, 5);
        AssertInitializer(m, weights, "conv5.weight", 256, 192, 3, 3);
        AssertInitializer(m, weights, "dense1.weight", 4096, 9216);

        // ONNX divides alpha by the size (Caffe's form); the paper's 1e-4 undivided is 5e-4 there.
        var lrn = Node(m, "lrn1");
        Assert.Equal(5, Attr(lrn, "size").I);
        Assert.Equal(5e-4f, Attr(lrn, "alpha").F, 1e-9f);
        Assert.Equal(0.75f, Attr(lrn, "beta").F);
        Assert.Equal(2f, Attr(lrn, "bias").F);
        Assert.Equal(["batch", "256", "6", "6"], Dims(m.Graph.ValueInfo.Single(v => v.Name == "pool3")));
    }

    [Fact]
    public void CeilPoolsBecomeExplicitEndPadding()
    {
        var net = Networks.Text(OnnxFixtures.Mixed);
        var m = RoundTrip(net, OnnxFixtures.Weights(net, 3));

        // avgpool 3 stride 2 pad 1 ceil over 12: real zeros for the padding (counted), pool padding beyond it (not counted).
        var pad = Node(m, "pool1.pad");
        Assert.Equal("Pad", pad.OpType);
        var pool1 = Node(m, "pool1");
        Assert.Equal("pool1.pad", pool1.Input[0]);
        Assert.Equal([0L, 0, 1, 1], Attr(pool1, "pads").Ints);
        Assert.Equal(0, Attr(pool1, "count_include_pad").I);
        Assert.DoesNotContain(pool1.Attribute, a => a.Name == "ceil_mode");
        // maxpool 2 ceil over 7: the last window reaches one past the input.
        Assert.Equal([0L, 0, 1, 1], Attr(Node(m, "pool2"), "pads").Ints);
        // conv 8 kernel 3 stride 2 pad 1 ceil over 4: zeros one further than the padding at the end.
        Assert.Equal([1L, 1, 2, 2], Attr(Node(m, "conv2"), "pads").Ints);
        // avgpool 2 ceil over 3 without padding: only the end padding, not counted.
        Assert.Equal([0L, 0, 1, 1], Attr(Node(m, "pool3"), "pads").Ints);
        Assert.Equal(0, Attr(Node(m, "pool3"), "count_include_pad").I);
        Assert.Equal(["x", "batchnorm2.gamma", "batchnorm2.beta", "batchnorm2.running_mean", "batchnorm2.running_var"],
            Node(m, "batchnorm2").Input.Select((n, i) => i == 0 ? "x" : n));
        Assert.Equal(0.1f, Attr(Node(m, "leaky-relu1"), "alpha").F);
    }

    [Fact]
    public void WeightsOfAnotherNetworkAreRefusedByName()
    {
        var net = Networks.Model("lenet.model", 10);
        var weights = OnnxFixtures.Weights(net, 1);
        weights.Remove("conv2.bias");
        var missing = Assert.Throws<DataException>(() => OnnxExport.ToBytes(net, weights));
        Assert.Contains("conv2.bias", missing.Message);

        var other = OnnxFixtures.Weights(Networks.Model("lenet.model", 7), 1);
        var sized = Assert.Throws<DataException>(() => OnnxExport.ToBytes(net, other));
        Assert.Contains("dense2", sized.Message);
    }
}
