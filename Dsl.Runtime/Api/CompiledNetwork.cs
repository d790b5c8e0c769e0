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
/// <remarks>Threads, with ONNX Runtime's session as the model: <see cref="Predict(string, int)"/>, <see cref="Probabilities"/>,
/// <see cref="Evaluate"/>, <see cref="InputTransform"/> and <see cref="SaveWeights"/> may be called from any number of
/// threads at once, each call with scratch of its own. <see cref="Train(ImageSet, ImageSet, IProgress{TrainProgress}?, CancellationToken)"/>
/// may run beside them: each training step changes the weights alone, so a prediction sees the weights before or after a
/// step, never during one (it waits for the step in flight). One Train at a time: a second one, or
/// <see cref="LoadWeights"/> during a Train, throws <see cref="InvalidOperationException"/>. Dispose it when no call is
/// in flight.</remarks>
public sealed class CompiledNetwork : IDisposable
{
    readonly Trainer trainer;
    readonly object ready = new();
    Predictor? predictor;
    // Predictors made with normalisation a later Train or LoadWeights replaced: other threads may still hold them, so
    // they are freed only when the weights are next changed alone, or with the network.
    readonly List<Predictor> retired = new();
    int training;

    internal CompiledNetwork(ModelDefinition definition, IDevice device, TrainOptions options)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(options);
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
    /// <exception cref="InvalidOperationException">Another Train on this network is running.</exception>
    /// <exception cref="OutputException">The first Train finds another run (finished or not) or other files in
    /// <see cref="TrainOptions.OutputDirectory"/>; nothing there is changed. Later Trains of this network train on in it.</exception>
    public TrainResult Train(ImageSet train, ImageSet test, IProgress<TrainProgress>? progress = null, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(test);
        using var alone = Alone("Train");
        FreeRetired();
        return trainer.Run(train, test, progress, cancel);
    }

    /// <summary>Loss, top-1 and top-5 accuracy and the confusion matrix over a labelled set.</summary>
    /// <remarks>Thread-safe.</remarks>
    public Evaluation Evaluate(ImageSet set)
    {
        ArgumentNullException.ThrowIfNull(set);
        using var reading = trainer.Gate.Reading();
        return Ready().Evaluate(set);
    }

    /// <summary>The most probable classes of a PNG or JPEG image, best first.</summary>
    /// <remarks>Thread-safe.</remarks>
    public IReadOnlyList<Prediction> Predict(string imagePath, int top = 5)
    {
        ArgumentNullException.ThrowIfNull(imagePath);
        using var reading = trainer.Gate.Reading();
        return Ready().Classify(imagePath, top);
    }

    /// <summary>The most probable classes of one image given as the network's normalised input (C x H x W floats).</summary>
    /// <remarks>Thread-safe.</remarks>
    public IReadOnlyList<Prediction> Predict(ReadOnlySpan<float> image, int top = 5)
    {
        using var reading = trainer.Gate.Reading();
        return Ready().Classify(image, top);
    }

    /// <summary>Class probabilities of a batch of <paramref name="count"/> normalised images, count x classes.</summary>
    /// <remarks>Thread-safe.</remarks>
    public float[] Probabilities(ReadOnlySpan<float> images, int count)
    {
        using var reading = trainer.Gate.Reading();
        return Ready().Probabilities(images, count);
    }

    /// <summary>Writes the weights as safetensors, with the normalisation and class names prediction needs.</summary>
    /// <remarks>Thread-safe: during a Train it writes the weights between two steps.</remarks>
    public void SaveWeights(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var reading = trainer.Gate.Reading();
        if (trainer.Statistics is null) throw new InvalidOperationException("train the network or load weights before saving them");
        trainer.SaveWeights(path);
    }

    /// <summary>Loads weights by tensor name (conv1.weight ...); reports what matched and what did not.</summary>
    /// <exception cref="InvalidOperationException">A Train on this network is running.</exception>
    public InitReport LoadWeights(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var alone = Alone("LoadWeights");
        FreeRetired();
        return trainer.LoadWeights(path);
    }

    /// <summary>How images of <paramref name="set"/> become the network's input: centred and normalised as in training.</summary>
    /// <remarks>Thread-safe.</remarks>
    public Transform InputTransform(ImageSet set)
    {
        ArgumentNullException.ThrowIfNull(set);
        using var reading = trainer.Gate.Reading();
        return Ready().TransformFor(set);
    }

    /// <summary>The number of classes the network tells apart.</summary>
    public int Classes => Definition.Inferred.Layers.Last().Output.Elements;

    /// <summary>The predictor of the current normalisation and class names; called with the gate held for reading, so
    /// neither changes while the caller uses it.</summary>
    Predictor Ready()
    {
        lock (ready)
        {
            if (trainer.Statistics is not { } stats || trainer.ClassNames is not { } classes)
                throw new InvalidOperationException("train the network or load weights written by training before predicting: the input normalisation comes from the training set");
            if (predictor is not null && predictor.Made(stats, classes)) return predictor;
            if (predictor is not null) retired.Add(predictor);
            return predictor = new Predictor(Definition.Inferred, trainer.Parameters, stats, classes, Options.EvalBatch);
        }
    }

    /// <summary>Marks a Train or LoadWeights in flight; a second one throws rather than interleave its steps.</summary>
    Flag Alone(string what) => Interlocked.Exchange(ref training, 1) == 0 ? new Flag(this)
        : throw new InvalidOperationException($"{what} was called while another Train or LoadWeights of this network is running; one at a time (predictions may run beside them)");

    readonly struct Flag(CompiledNetwork owner) : IDisposable
    {
        public void Dispose() => Volatile.Write(ref owner.training, 0);
    }

    void FreeRetired()
    {
        using var writing = trainer.Gate.Writing();
        lock (ready)
        {
            foreach (var p in retired) p.Dispose();
            retired.Clear();
        }
    }

    public void Dispose()
    {
        lock (ready)
        {
            if (predictor is not null) retired.Add(predictor);
            predictor = null;
        }
        FreeRetired();
        trainer.Dispose();
    }
}
