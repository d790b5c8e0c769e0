using Dsl.Core;
using Dsl.Runtime.Data;

namespace Dsl.Runtime;

/// <summary>A network compiled for a device, its parameters in device memory: train it, evaluate it, predict with it,
/// save and load its weights. Dispose it to free its device memory.</summary>
/// <example><code>
/// using var device = Devices.Open("auto");
/// using var net = ModelDefinition.Load("Models/lenet.model").Compile(device);
/// var result = net.Train();
/// Console.WriteLine($"test accuracy {result.Test!.Accuracy:P1}");
/// </code></example>
public sealed class CompiledNetwork : IDisposable
{
    readonly Trainer trainer;
    Predictor? predictor;

    internal CompiledNetwork(ModelDefinition definition, IDevice device, TrainOptions options)
    {
        Definition = definition;
        Options = options;
        trainer = new Trainer(definition.Inferred, Config, device, options);
    }

    public ModelDefinition Definition { get; }
    public TrainOptions Options { get; }
    TrainConfig Config => Definition.Inferred.Network.Train?.Value ?? TrainConfigModule.defaults;

    /// <summary>Trains on the data set the model's train block names (Fashion-MNIST, MNIST, CIFAR, an image folder, synthetic).</summary>
    public TrainResult Train(IProgress<TrainProgress>? progress = null, CancellationToken cancel = default)
    {
        var source = Config.Data?.Value.Source ?? throw new DataException($"model {Definition.Name} names no data set; pass images to Train");
        var (train, test) = DataSources.Load(source, Definition.Inferred.Network.Input, Options.Seed ?? Config.Seed, Config.Data?.Value);
        return Train(train, test, progress, cancel);
    }

    /// <summary>Trains on <paramref name="train"/> (a validation split is held out of it) and reports on <paramref name="test"/>.
    /// Cancelling stops at the end of the current step (or batch of a validation or test pass) and leaves a checkpoint in
    /// the run folder; the result's Test is then null.</summary>
    public TrainResult Train(ImageSet train, ImageSet test, IProgress<TrainProgress>? progress = null, CancellationToken cancel = default)
    {
        DropPredictor();
        return trainer.Run(train, test, progress, cancel);
    }

    /// <summary>Loss, top-1 and top-5 accuracy and the confusion matrix over a labelled set.</summary>
    public Evaluation Evaluate(ImageSet set) => Ready().Evaluate(set);

    /// <summary>The most probable classes of a PNG or JPEG image, best first.</summary>
    public IReadOnlyList<Prediction> Predict(string imagePath, int top = 5) => Ready().Classify(imagePath, top);

    /// <summary>The most probable classes of one image given as the network's normalised input (C x H x W floats).</summary>
    public IReadOnlyList<Prediction> Predict(ReadOnlySpan<float> image, int top = 5) => Ready().Classify(image, top);

    /// <summary>Class probabilities of a batch of <paramref name="count"/> normalised images, count x classes.</summary>
    public float[] Probabilities(ReadOnlySpan<float> images, int count) => Ready().Probabilities(images, count);

    /// <summary>Writes the weights as safetensors, with the normalisation and class names prediction needs.</summary>
    public void SaveWeights(string path)
    {
        if (trainer.Statistics is null) throw new InvalidOperationException("train the network or load weights before saving them");
        trainer.SaveWeights(path);
    }

    /// <summary>Loads weights by tensor name (conv1.weight ...); reports what matched and what did not.</summary>
    public InitReport LoadWeights(string path)
    {
        DropPredictor();
        return trainer.LoadWeights(path);
    }

    /// <summary>How images of <paramref name="set"/> become the network's input: centred and normalised as in training.</summary>
    public Transform InputTransform(ImageSet set) => Ready().TransformFor(set);

    /// <summary>The number of classes the network tells apart.</summary>
    public int Classes => Definition.Inferred.Layers.Last().Output.Elements;

    Predictor Ready()
    {
        if (predictor is not null) return predictor;
        if (trainer.Statistics is not { } stats || trainer.ClassNames is not { } classes)
            throw new InvalidOperationException("train the network or load weights written by training before predicting: the input normalisation comes from the training set");
        return predictor = new Predictor(Definition.Inferred, trainer.Parameters, stats, classes, Options.EvalBatch);
    }

    void DropPredictor()
    {
        predictor?.Dispose();
        predictor = null;
    }

    public void Dispose()
    {
        DropPredictor();
        trainer.Dispose();
    }
}
