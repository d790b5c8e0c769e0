using Dsl.Compiler;
using Dsl.Core;

namespace Dsl.Runtime;

/// <summary>A line of the imported model file: a layer and the ONNX node(s) it came from, or (Layer null) a note on
/// nodes that became no layer, such as a pooling that is the identity at this input size.</summary>
public sealed record ImportedLine(Layer? Layer, string Comment);

/// <summary>What <see cref="OnnxImport"/> read: the network, its lines in order, and its weights under the names and in
/// the shapes the language gives them (conv1.weight [F, C/groups, K, K], dense1.weight [out, in], batchnorm1.gamma...).
/// <paramref name="Notes"/>: what the reader changed on the way, for the user to know (tensors converted to float32, a
/// softmax added).</summary>
public sealed record ImportedNetwork(
    Shapes.Inferred Network,
    IReadOnlyList<ImportedLine> Lines,
    IReadOnlyDictionary<string, float[]> Weights,
    IReadOnlyDictionary<string, long[]> WeightShapes,
    int Opset,
    string Producer,
    IReadOnlyList<string> Notes);
