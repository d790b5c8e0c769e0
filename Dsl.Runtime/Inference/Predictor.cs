using Dsl.Compiler;
using Dsl.Core;
using Dsl.Runtime.Data;
using Dsl.Runtime.Images;

namespace Dsl.Runtime;

/// <summary>A class and how probable the network finds it.</summary>
public sealed record Prediction(string Class, int Index, float Probability);

/// <summary>A trained network ready for inference on a device: its weights, the normalisation of its training set,
/// and its class names. Disposing it frees its device memory.</summary>
/// <remarks>Thread-safe, as an ONNX Runtime session's <c>Run</c> is: any number of threads may classify, evaluate and
/// compute probabilities at once. On the CPU each call takes a runner (activations and prepared weights) of its own from
/// a pool that grows to the number of calls in flight; a GPU runs one call at a time. Dispose it when no call is in flight.</remarks>
public sealed class Predictor : IDisposable
{
    readonly Shapes.Inferred network;
    readonly ParameterSet parameters;
    readonly bool ownsParameters;
    readonly RunnerPool runners;
    readonly (float[] mean, float[] std) stats;
    readonly int channels, height, width;

    /// <summary>Loads <paramref name="weightsPath"/> (written by training) into <paramref name="network"/> on <paramref name="device"/>.</summary>
    public Predictor(Shapes.Inferred network, string weightsPath, IDevice device, int batch = 64)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(weightsPath);
        ArgumentNullException.ThrowIfNull(device);
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        var plan = MemoryPlan.compile(PlanMode.Inference, batch, network);
        var (tensors, metadata) = SafeTensors.Read(weightsPath);
        parameters = new ParameterSet(device, plan, 0);
        ownsParameters = true;
        var report = parameters.LoadMatching(tensors);
        if (report.NotInFile.Count > 0 || report.Skipped.Count > 0)
            throw new DataException($"{weightsPath} does not fit network {network.Network.Name}: " +
                string.Join("; ", report.Skipped.Concat(report.NotInFile.Select(n => $"{n} missing"))));
        (this.network, stats, Classes) = (network, WeightsFile.Statistics(metadata, weightsPath), WeightsFile.Classes(metadata, plan.Classes));
        (channels, height, width) = InputOf(network);
        runners = new RunnerPool(device, plan, parameters);
    }

    /// <summary>Predicts with parameters someone else owns (a network being trained).</summary>
    internal Predictor(Shapes.Inferred network, ParameterSet parameters, (float[] mean, float[] std) stats, IReadOnlyList<string> classes, int batch)
    {
        (this.network, this.parameters, this.stats, Classes) = (network, parameters, stats, classes);
        (channels, height, width) = InputOf(network);
        runners = new RunnerPool(parameters.Device, MemoryPlan.compile(PlanMode.Inference, batch, network), parameters);
    }

    static (int, int, int) InputOf(Shapes.Inferred network) => network.Network.Input is Shape.Chw input
        ? (input.c, input.h, input.w)
        : throw new ArgumentException("prediction from images needs an image input (C x H x W)");

    /// <summary>The run folder's network and final weights.</summary>
    public static Predictor FromRun(string runDir, IDevice device, int batch = 64)
    {
        ArgumentNullException.ThrowIfNull(runDir);
        ArgumentNullException.ThrowIfNull(device);
        var model = Path.Combine(runDir, "model.model");
        var weights = Path.Combine(runDir, "weights.safetensors");
        if (!File.Exists(model) || !File.Exists(weights)) throw new DataException($"{runDir} is not a finished run: it needs model.model and weights.safetensors");
        var classes = SafeTensors.ReadMetadata(weights).TryGetValue("classes", out var c)
            ? System.Text.Json.JsonSerializer.Deserialize<string[]>(c)?.Length : null;
        return new Predictor(Frontend.compileFile(model, classes).Item1, weights, device, batch);
    }

    public IReadOnlyList<string> Classes { get; }

    /// <summary>Whether this predictor was made with this normalisation and these class names (the same objects).</summary>
    internal bool Made((float[] mean, float[] std) stats, IReadOnlyList<string> classes) =>
        ReferenceEquals(this.stats.mean, stats.mean) && ReferenceEquals(this.stats.std, stats.std) && ReferenceEquals(Classes, classes);

    /// <summary>The network it runs, with every shape inferred.</summary>
    public Shapes.Inferred Network => network;

    /// <summary>The transform of evaluation: centred, normalised as in training.</summary>
    public Transform TransformFor(ImageSet set) => new(set, channels, height, width, network.Network.Train?.Value ?? TrainConfigModule.defaults, stats);

    /// <summary>Loss, top-1 and top-5 accuracy and the confusion matrix over a labelled set.</summary>
    public Evaluation Evaluate(ImageSet set)
    {
        ArgumentNullException.ThrowIfNull(set);
        using var runner = runners.Rent();
        return Evaluator.Run(runner.Runner, set, TransformFor(set));
    }

    /// <summary>The most probable classes of an image file (PNG, JPEG, WebP, GIF or BMP), best first.</summary>
    public IReadOnlyList<Prediction> Classify(string imagePath, int top = 5)
    {
        ArgumentNullException.ThrowIfNull(imagePath);
        AtLeastOne(top);
        // A FIFO would block and a device (/dev/zero) would be read forever.
        if (FileKinds.NotARegularFile(imagePath) is string why) throw new DataException(why);
        int side = Math.Max(height, width);
        var image = Resample.CentreSquare(Image.Load(imagePath, minSide: side).WithChannels(channels == 1 ? 1 : 3), side);
        var pixels = new byte[channels * side * side];
        ImageFolder.ToPlanes(image, pixels);
        var set = new ImageSet(pixels, [0], channels, side, side, Classes);
        var input = new float[channels * height * width];
        TransformFor(set).Apply(set.Image(0), input, null);
        return Classify(input, top);
    }

    /// <summary>The most probable classes of one image already laid out as the network's input (C x H x W floats, normalised).</summary>
    public IReadOnlyList<Prediction> Classify(ReadOnlySpan<float> image, int top = 5)
    {
        AtLeastOne(top);
        var probs = Probabilities(image, 1);
        if (probs.Any(p => !float.IsFinite(p)))
            throw new DataException("the network produced NaN or infinity for this image; its weights or the input normalisation are broken");
        return probs.Select((p, i) => new Prediction(Classes[i], i, p)).OrderByDescending(p => p.Probability).Take(top).ToList();
    }

    static void AtLeastOne(int top)
    {
        if (top < 1) throw new ArgumentOutOfRangeException(nameof(top), top, "at least one class must be shown");
    }

    /// <summary>Class probabilities of <paramref name="count"/> images (count x C x H x W floats), count x classes.</summary>
    public float[] Probabilities(ReadOnlySpan<float> images, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        int n = runners.Plan.Batch, classes = runners.Plan.Classes, size = channels * height * width;
        if (images.Length != count * size) throw new ArgumentException($"{count} images of {channels}x{height}x{width} are {count * size} floats, got {images.Length}");
        var result = new float[count * classes];
        var batch = new float[n * size];
        var probs = new float[n * classes];
        var labels = new int[n];
        using var rented = runners.Rent();
        var runner = rented.Runner;
        for (int start = 0; start < count; start += n)
        {
            int m = Math.Min(n, count - start);
            images.Slice(start * size, m * size).CopyTo(batch);
            runner.SetBatch(batch, labels);
            runner.Run(0);
            runner.ReadProbabilities(probs);
            probs.AsSpan(0, m * classes).CopyTo(result.AsSpan(start * classes));
        }
        return result;
    }

    public void Dispose()
    {
        runners.Dispose();
        if (ownsParameters) parameters.Dispose();
    }
}
