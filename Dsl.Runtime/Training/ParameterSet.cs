using Dsl.Core;

namespace Dsl.Runtime;

/// <summary>How weights start: He (Kaiming normal, the default for ReLU networks), Glorot (uniform),
/// or the AlexNet paper's N(0, 0.01) weights with biases of 1 on conv2, conv4, conv5 and the hidden dense layers.</summary>
public enum InitScheme { He, Glorot, Paper }

/// <summary>A network's parameters, gradients and batch-norm statistics on one device, by name (conv1.weight).
/// Shared by the training and the inference plans of the same network.</summary>
public sealed class ParameterSet : IDisposable
{
    readonly Dictionary<string, IDeviceBuffer> buffers = new();
    readonly Dictionary<string, Core.Buffer> specs = new();

    public ParameterSet(IDevice device, Plan plan, int seed)
    {
        Device = device;
        Seed = seed;
        foreach (var b in plan.Buffers)
        {
            if (b.Kind.IsParameter || b.Kind.IsRunningStat || (b.Kind.IsParameterGrad && plan.Mode.IsTraining))
            {
                buffers[b.Name] = device.Allocate(b.Floats, b.Name);
                specs[b.Name] = b;
            }
        }
        Trainable = plan.Params.Select(p => plan.Buffers[p.Value].Name).ToList();
    }

    public IDevice Device { get; }

    /// <summary>The run's seed: initialisation, dropout masks and sample order derive from it.</summary>
    public int Seed { get; }

    /// <summary>Names of the trainable tensors in network order.</summary>
    public IReadOnlyList<string> Trainable { get; }

    public IDeviceBuffer this[string name] =>
        buffers.TryGetValue(name, out var b) ? b : throw new InvalidOperationException($"no parameter buffer {name}");

    public bool Contains(string name) => buffers.ContainsKey(name);

    /// <summary>Persistent tensors (weights, biases, batch-norm statistics): what a checkpoint saves.</summary>
    public IEnumerable<string> Persistent => specs.Values.Where(s => !s.Kind.IsParameterGrad).Select(s => s.Name);

    public float[] Read(string name)
    {
        var b = this[name];
        var host = new float[b.Floats];
        b.Download(host);
        return host;
    }

    public void Write(string name, ReadOnlySpan<float> values)
    {
        var b = this[name];
        if (values.Length != b.Floats) throw new ArgumentException($"{name} holds {b.Floats} values, got {values.Length}");
        b.Upload(values);
    }

    public void Initialize(InitScheme scheme)
    {
        foreach (var (name, spec) in specs)
        {
            if (spec.Kind.IsParameterGrad) continue;
            var values = new float[spec.Floats];
            var role = name[(name.LastIndexOf('.') + 1)..];
            var layer = name[..name.LastIndexOf('.')];
            var rng = new Random(Seeds.Int(Seed, Seeds.Of(name)));
            switch (role)
            {
                case "weight":
                    for (int i = 0; i < values.Length; i++)
                        values[i] = scheme switch
                        {
                            InitScheme.He => (float)(Normal(rng) * Math.Sqrt(2.0 / spec.FanIn)),
                            InitScheme.Glorot => (float)((rng.NextDouble() * 2 - 1) * Math.Sqrt(6.0 / (spec.FanIn + spec.FanOut))),
                            _ => (float)(Normal(rng) * 0.01),
                        };
                    break;
                case "bias":
                    if (scheme == InitScheme.Paper && PaperOneBias(layer)) Array.Fill(values, 1f);
                    break;
                case "gamma":
                case "running_var":
                    Array.Fill(values, 1f);
                    break;
            }
            Write(name, values);
        }
    }

    // The paper initialises these biases to 1 "to accelerate the early stages of learning by providing the ReLUs with positive inputs".
    static bool PaperOneBias(string layer) => layer is "conv2" or "conv4" or "conv5" or "dense1" or "dense2";

    static double Normal(Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());

    public void Dispose()
    {
        foreach (var b in buffers.Values) b.Dispose();
        buffers.Clear();
    }
}
