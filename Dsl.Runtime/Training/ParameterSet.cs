using Dsl.Core;

namespace Dsl.Runtime;

/// <summary>What loading weights from a file did, tensor by tensor.</summary>
public sealed record InitReport(IReadOnlyList<string> Loaded, IReadOnlyList<string> Skipped, IReadOnlyList<string> NotInFile, IReadOnlyList<string> UnusedInFile);

/// <summary>A network's parameters, gradients, optimiser state, batch-norm statistics and constants on one device,
/// by name (conv1.weight, conv1.weight.grad, conv1.weight.opt1). Shared by the training and inference plans of a network.</summary>
public sealed class ParameterSet : IDisposable
{
    readonly Dictionary<string, IDeviceBuffer> buffers = new();
    readonly Dictionary<string, Core.Buffer> specs = new();

    /// <summary>Allocates a plan's parameters on <paramref name="device"/>; a training plan also gets the optimiser state that
    /// <paramref name="optimizer"/> keeps (both slots where it is not known).</summary>
    public ParameterSet(IDevice device, Plan plan, int seed, Optimizer? optimizer = null)
    {
        Device = device;
        Seed = seed;
        StateSlotsHeld = plan.Mode.IsTraining ? StateSlots(optimizer) : 0;
        var held = plan.Buffers.Where(b => b.Kind.IsParameter || b.Kind.IsRunningStat || b.Kind.IsConstant || (b.Kind.IsParameterGrad && plan.Mode.IsTraining)).ToList();
        if (device is Cpu.CpuDevice cpu)
            cpu.CheckRoom(held.Sum(b => DeviceMemory.BytesOf(b.Floats)) + plan.Params.Sum(p => StateSlotsHeld * DeviceMemory.BytesOf(plan.Buffers[p.Value].Floats)),
                $"the parameters of {plan.Network}{(plan.Mode.IsTraining ? ", their gradients and the optimizer's state" : "")}", "the network does not fit in this machine's memory at any batch size");
        foreach (var b in held) Add(b);
        Trainable = plan.Params.Select(p => plan.Buffers[p.Value].Name).ToList();
        shapes = Shapes(plan);
        OutputLayer = plan.Kernels.Select(k => k switch
        {
            Kernel.ConvForward c => plan.Buffers[c.W].Name,
            Kernel.DenseForward d => plan.Buffers[d.W].Name,
            _ => null,
        }).LastOrDefault(w => w is not null);
        // Optimiser state: momentum or Adam's first moment, and a second moment where the optimiser keeps one.
        if (plan.Mode.IsTraining)
            foreach (var p in plan.Params)
                foreach (var slot in OptimizerSlots.Take(StateSlotsHeld))
                {
                    var w = plan.Buffers[p.Value];
                    Add(new Core.Buffer(-1, w.Name + slot, w.Floats, BufferKind.Saved, 0, 0));
                }
    }

    readonly Dictionary<string, long[]> shapes;

    /// <summary>The weight of the last convolution or dense layer, the one that feeds the loss (null without one).</summary>
    public string? OutputLayer { get; }

    /// <summary>The shapes PyTorch gives the same tensors: conv weights [K, C/groups, R, S], dense weights [out, in];
    /// the rest are vectors.</summary>
    static Dictionary<string, long[]> Shapes(Plan plan)
    {
        var result = new Dictionary<string, long[]>();
        foreach (var k in plan.Kernels)
            switch (k)
            {
                case Kernel.ConvForward c:
                    result[plan.Buffers[c.W].Name] = [c.G.K, c.G.C / c.G.Groups, c.G.R, c.G.S];
                    break;
                case Kernel.DenseForward d:
                    result[plan.Buffers[d.W].Name] = [d.Out, d.In];
                    break;
            }
        return result;
    }

    /// <summary>A tensor's shape; optimiser state has its weight's shape.</summary>
    public long[] ShapeOf(string name)
    {
        var weight = OptimizerSlots.FirstOrDefault(name.EndsWith) is string slot ? name[..^slot.Length] : name;
        return shapes.TryGetValue(weight, out var shape) ? shape : [this[name].Floats];
    }

    /// <summary>Suffixes of the optimiser-state tensors of each trainable tensor.</summary>
    public static readonly string[] OptimizerSlots = [".opt1", ".opt2"];

    /// <summary>State tensors per weight: SGD keeps its momentum, RMSProp its mean square (and a momentum buffer where it
    /// has momentum), Adam both moments. For AlexNet an unused slot would be 233 MiB.</summary>
    public static int StateSlots(Optimizer? optimizer) => optimizer switch
    {
        Optimizer.Sgd => 1,
        Optimizer.RmsProp r => r.momentum > 0 ? 2 : 1,
        _ => 2,
    };

    void Add(Core.Buffer b)
    {
        // A buffer that does not fit frees those allocated before it: the constructor's caller never gets the set to dispose.
        try { buffers[b.Name] = Device.Allocate(b.Floats, b.Name); }
        catch
        {
            Dispose();
            throw;
        }
        specs[b.Name] = b;
    }

    public IDevice Device { get; }

    /// <summary>Optimiser-state tensors held per trainable tensor: 0 for an inference plan.</summary>
    public int StateSlotsHeld { get; }

    /// <summary>The run's seed: initialisation, dropout masks and sample order derive from it.</summary>
    public int Seed { get; }

    /// <summary>Names of the trainable tensors in network order.</summary>
    public IReadOnlyList<string> Trainable { get; }

    public IDeviceBuffer this[string name] =>
        buffers.TryGetValue(name, out var b) ? b : throw new InvalidOperationException($"no parameter buffer {name}");

    public bool Contains(string name) => buffers.ContainsKey(name);

    /// <summary>The weights: parameters and batch-norm statistics, what inference needs.</summary>
    public IEnumerable<string> Weights => specs.Values.Where(s => s.Kind.IsParameter || s.Kind.IsRunningStat).Select(s => s.Name);

    /// <summary>Weights and optimiser state: what resuming needs.</summary>
    public IEnumerable<string> State => Weights.Concat(specs.Values.Where(s => s.Kind.IsSaved).Select(s => s.Name));

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

    /// <summary>By role (the default: He on the hidden layers, zero on the layer that feeds the loss, so that the first
    /// steps do not overshoot and kill ReLUs; docs/experiments/init-by-role.md), He (Kaiming normal) everywhere,
    /// Glorot (uniform), or the AlexNet paper's N(0, 0.01) weights with biases of 1 on conv2, conv4, conv5 and the hidden
    /// dense layers. Other biases, state and constants start at zero.</summary>
    public void Initialize(InitScheme scheme)
    {
        foreach (var (name, spec) in specs)
        {
            if (!spec.Kind.IsParameter && !spec.Kind.IsRunningStat) continue;
            var values = new float[spec.Floats];
            var role = name[(name.LastIndexOf('.') + 1)..];
            var layer = name[..name.LastIndexOf('.')];
            var rng = new Random(Seeds.Int(Seed, Seeds.Of(name)));
            switch (role)
            {
                // By role, the layer that feeds the loss starts at zero: the first logits are all 0, the first loss is
                // ln(classes) whatever the scale of the layers before it, and its first gradient (input times error) is not zero.
                case "weight" when scheme.IsByRole && name == OutputLayer:
                    break;
                case "weight":
                    for (int i = 0; i < values.Length; i++)
                        values[i] = scheme switch
                        {
                            { IsHe: true } or { IsByRole: true } => (float)(Normal(rng) * Math.Sqrt(2.0 / spec.FanIn)),
                            { IsGlorot: true } => (float)((rng.NextDouble() * 2 - 1) * Math.Sqrt(6.0 / (spec.FanIn + spec.FanOut))),
                            _ => (float)(Normal(rng) * 0.01),
                        };
                    break;
                case "bias":
                    if (scheme.IsPaperInit && PaperOneBias(layer)) Array.Fill(values, 1f);
                    break;
                case "gamma":
                case "running_var":
                    Array.Fill(values, 1f);
                    break;
            }
            Write(name, values);
        }
    }

    /// <summary>Loads the weights whose names and sizes match (fine-tuning, feature extraction); reports the rest.
    /// A tensor stored with a shape (not flat, as files before shapes were written) must have the network's.</summary>
    public InitReport LoadMatching(IReadOnlyDictionary<string, StoredTensor> file) =>
        LoadMatching(file.ToDictionary(t => t.Key, t => t.Value.Values), file.ToDictionary(t => t.Key, t => t.Value.Shape));

    /// <summary>Why a stored tensor cannot be <paramref name="name"/>'s values, or null when it can.</summary>
    public string? Mismatch(string name, int values, long[]? shape)
    {
        if (values != this[name].Floats) return $"{values} values in the file, {this[name].Floats} in the network";
        var mine = ShapeOf(name);
        return shape is { Length: > 1 } && !shape.SequenceEqual(mine)
            ? $"shape [{string.Join(", ", shape)}] in the file, [{string.Join(", ", mine)}] in the network" : null;
    }

    public InitReport LoadMatching(IReadOnlyDictionary<string, float[]> file, IReadOnlyDictionary<string, long[]>? fileShapes = null)
    {
        var loaded = new List<string>();
        var skipped = new List<string>();
        var missing = new List<string>();
        foreach (var name in Weights)
        {
            if (!file.TryGetValue(name, out var values)) { missing.Add(name); continue; }
            if (Mismatch(name, values.Length, fileShapes?.GetValueOrDefault(name)) is string why) { skipped.Add($"{name} ({why})"); continue; }
            Write(name, values);
            loaded.Add(name);
        }
        var unused = file.Keys.Where(k => !Contains(k)).ToList();
        return new InitReport(loaded, skipped, missing, unused);
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
