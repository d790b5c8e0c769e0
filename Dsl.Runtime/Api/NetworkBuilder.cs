using Dsl.Core;
using Microsoft.FSharp.Collections;
using Microsoft.FSharp.Core;

namespace Dsl.Runtime;

/// <summary>Builds a network in C# with the model file's vocabulary; <see cref="Build"/> gives the same value as the
/// equivalent model file.</summary>
/// <example><code>
/// var lenet = new NetworkBuilder("lenet").Input(1, 28, 28)
///     .Conv(32, kernel: 5, pad: 2).Relu().MaxPool(2)
///     .Flatten().Dense(10).Softmax()
///     .Build();
/// </code></example>
public sealed class NetworkBuilder(string name)
{
    readonly string name = name ?? throw new ArgumentNullException(nameof(name));
    readonly List<Layer> layers = new();
    Shape? input;

    public NetworkBuilder Input(int channels, int height, int width) { input = Shape.NewChw(channels, height, width); return this; }

    public NetworkBuilder Conv(int filters, int kernel, int stride = 1, int pad = 0, int groups = 1, bool bias = true) =>
        Add(Layer.NewConv(new ConvSpec(filters, Tuple.Create(kernel, kernel), Tuple.Create(stride, stride), Tuple.Create(pad, pad), groups, bias,
            FSharpOption<Rounding>.None)));

    public NetworkBuilder MaxPool(int size, int? stride = null, int pad = 0, bool ceil = false) => Pool(PoolKind.MaxPool, size, stride, pad, ceil);
    public NetworkBuilder AvgPool(int size, int? stride = null, int pad = 0, bool ceil = false) => Pool(PoolKind.AvgPool, size, stride, pad, ceil);

    /// <summary>Local response normalisation with the AlexNet paper's formula (alpha not divided by size).</summary>
    public NetworkBuilder Lrn(int size = 5, double alpha = 1e-4, double beta = 0.75, double k = 2) => Add(Layer.NewLrn(new LrnSpec(size, alpha, beta, k)));
    public NetworkBuilder Dense(int units, bool bias = true) => Add(Layer.NewDense(new DenseSpec(units, bias)));
    public NetworkBuilder Dropout(double rate = 0.5) => Add(Layer.NewDropout(rate));
    public NetworkBuilder Relu() => Add(Layer.NewAct(Activation.Relu));
    public NetworkBuilder LeakyRelu(double slope = 0.01) => Add(Layer.NewAct(Activation.NewLeakyRelu(slope)));
    public NetworkBuilder Tanh() => Add(Layer.NewAct(Activation.Tanh));
    public NetworkBuilder Sigmoid() => Add(Layer.NewAct(Activation.Sigmoid));
    public NetworkBuilder BatchNorm(double eps = 1e-5, double momentum = 0.1) => Add(Layer.NewBatchNorm(new BatchNormSpec(eps, momentum)));
    public NetworkBuilder Flatten() => Add(Layer.Flatten);
    public NetworkBuilder Softmax() => Add(Layer.Softmax);

    /// <summary>The network with every shape inferred.</summary>
    /// <exception cref="ModelFileException">A layer cannot take its input (the position names the layer's index).</exception>
    public ModelDefinition Build()
    {
        var shape = input ?? throw new InvalidOperationException($"network {name} has no input; call Input(channels, height, width) first");
        return ModelDefinition.FromNetwork(NetworkModule.create(name, shape, ListModule.OfSeq(layers), FSharpOption<TrainConfig>.None));
    }

    NetworkBuilder Pool(PoolKind kind, int size, int? stride, int pad, bool ceil) =>
        Add(Layer.NewPool(new PoolSpec(kind, Tuple.Create(size, size), Tuple.Create(stride ?? size, stride ?? size), Tuple.Create(pad, pad),
            ceil ? Rounding.Ceil : Rounding.Floor)));

    NetworkBuilder Add(Layer layer)
    {
        layers.Add(layer);
        return this;
    }
}
