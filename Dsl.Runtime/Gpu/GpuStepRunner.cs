using System.Runtime.InteropServices;
using Dsl.Compiler;
using Dsl.Compiler.Render;
using Dsl.Core;
using static Dsl.Compiler.Render.CStyle;
using Language = Dsl.Compiler.Render.Dialect.Dialect;

namespace Dsl.Runtime.Gpu;

/// <summary>What the CUDA and OpenCL step runners share: the plan's kernels rendered in the driver's dialect and built
/// once, every argument set once (only the step number changes per run), the step's tensors in one arena buffer, the
/// optimizer's update kernels built on first use. A driver says how to build and release a program, create, time and
/// wait for kernels, and find a buffer's memory.</summary>
abstract class GpuStepRunner<TKernel> : IStepRunner where TKernel : GpuKernel
{
    readonly ParameterSet parameters;
    readonly Language dialect;
    readonly Tuning tuning;
    IDeviceBuffer? arena, losses;
    nint program;
    /// <summary>The launches of each plan kernel, in order.</summary>
    TKernel[][] kernels = [];
    readonly List<TKernel> stepped = new(), sampled = new();
    readonly List<(ParamRef Param, nint S1, nint S2)> trainable = new();
    readonly Dictionary<Optimizer, (nint Program, TKernel[] PerParam)> updates = new();
    /// <summary>Whether the plan ends in the loss (a plan without one returns NaN from Run, as the CPU device does).</summary>
    readonly bool hasLoss;

    protected GpuStepRunner(Plan plan, ParameterSet parameters, Language dialect, Tuning tuning)
    {
        Plan = plan;
        this.parameters = parameters;
        this.dialect = dialect;
        this.tuning = tuning;
        hasLoss = plan.Kernels.Any(k => k.IsSoftmaxCrossEntropy);
    }

    public Plan Plan { get; }
    public double[]? KernelSeconds { get; set; }
    public long FirstSample { get; set; }

    /// <summary>"CUDA" or "OpenCL", for messages.</summary>
    protected abstract string Driver { get; }
    protected abstract string DeviceName { get; }
    /// <summary>Compiles source into a program (a CUDA module, an OpenCL program); <paramref name="name"/> names its cache entry.</summary>
    protected abstract nint Build(string source, string name);
    protected abstract void Release(nint program);
    protected abstract TKernel Create(nint program, Launch launch, string what);
    /// <summary>The buffer's pointer or handle, or null when another device's buffer is passed.</summary>
    protected abstract nint? MemoryOf(IDeviceBuffer buffer);
    /// <summary>Makes the device current for this thread, where the driver needs that.</summary>
    protected virtual void Enter() { }
    /// <summary>Waits until everything queued has run; a failure names <paramref name="what"/>.</summary>
    protected abstract void Wait(string what);
    protected abstract void StartTiming();
    /// <summary>Seconds since <see cref="StartTiming"/>, once the queued work has run.</summary>
    protected abstract double StopTiming(string what);
    /// <summary>Frees what the driver itself holds (timing events), after the shared buffers and programs.</summary>
    protected virtual void ReleaseDriver() { }

    /// <summary>Builds the plan's program, allocates the arena and the losses with <paramref name="allocate"/>, and points
    /// every kernel at its memory. Called by the driver's constructor once the driver can build and allocate.</summary>
    protected void Load(Func<(IDeviceBuffer arena, IDeviceBuffer losses)> allocate)
    {
        var source = Program.plan(dialect, tuning, Plan);
        program = Build(source.Text, $"{Plan.Network}-{(Plan.Mode.IsTraining ? "training" : "inference")}-b{Plan.Batch}");
        (arena, losses) = allocate();
        kernels = source.Launches.Select((ls, i) => ls.Select(l => Create(program, l, MemoryPlan.describe(Plan, Plan.Kernels[i]))).ToArray()).ToArray();
        foreach (var k in kernels.SelectMany(k => k))
            for (int a = 0; a < k.Args.Length; a++)
                switch (k.Args[a])
                {
                    case Arg.Buf b: k.SetMemory(a, Memory(b.id)); break;
                    case var x when x.IsLosses: k.SetMemory(a, Own(losses)); break;
                    case var x when x.IsSeed: k.SetULong(a, (ulong)parameters.Seed); break;
                    case var x when x.IsStep: stepped.Add(k); break;
                    case var x when x.IsFirstSample: sampled.Add(k); break;
                    default: throw new InvalidOperationException($"{k.Name}: argument {k.Args[a]} has no meaning in a step");
                }
        // Optimizer state lives in the parameter set (a checkpoint saves it); the runner only points kernels at it.
        if (Plan.Mode.IsTraining)
            foreach (var p in Plan.Params)
            {
                var name = Plan.Buffers[p.Value].Name;
                nint State(string slot) => parameters.Contains(name + slot) ? Parameter(name + slot) : 0;
                trainable.Add((p, State(ParameterSet.OptimizerSlots[0]), State(ParameterSet.OptimizerSlots[1])));
            }
    }

    nint Memory(int id) => Plan.Offsets.ContainsKey(id) ? Own(arena!) : Parameter(Plan.Buffers[id].Name);

    nint Own(IDeviceBuffer buffer) => MemoryOf(buffer) ?? throw new InvalidOperationException($"{buffer.Name} is not a {Driver} buffer");

    nint Parameter(string name) => MemoryOf(parameters[name])
        ?? throw new DeviceException($"{Driver}: {name} lives on {parameters.Device.Name}, not on {DeviceName}");

    public void SetBatch(ReadOnlySpan<float> images, ReadOnlySpan<int> batchLabels)
    {
        StepArithmetic.CheckLabels(batchLabels, Plan.Classes, nameof(batchLabels));
        arena!.Upload(images, Plan.Offsets[Plan.Images]);
        arena.Upload(MemoryMarshal.Cast<int, float>(batchLabels), Plan.Offsets[Plan.Labels]);
    }

    public double Run(long step)
    {
        Enter();
        foreach (var k in stepped) k.SetULong(k.IndexOf(x => x.IsStep), (ulong)step);
        foreach (var k in sampled) k.SetULong(k.IndexOf(x => x.IsFirstSample), (ulong)FirstSample);
        for (int i = 0; i < kernels.Length; i++)
        {
            if (KernelSeconds is not null) StartTiming();
            foreach (var k in kernels[i]) k.Run();
            if (KernelSeconds is { } times) times[i] += StopTiming($"running {kernels[i][0].What}");
        }
        if (!hasLoss)
        {
            Wait("running the step");
            return double.NaN;
        }
        var perExample = new float[2 * Plan.Batch];
        losses!.Download(perExample);
        return StepArithmetic.MeanLoss(perExample, Plan.Batch);
    }

    public void Update(Optimizer optimizer, double learningRate, long t)
    {
        Enter();
        if (!updates.TryGetValue(optimizer, out var u))
        {
            var counts = trainable.Select(p => Plan.Buffers[p.Param.Value].Floats).ToList();
            var source = Program.updates(dialect, tuning, optimizer, Microsoft.FSharp.Collections.ListModule.OfSeq(counts));
            var prog = Build(source.Text, $"{Plan.Network}-updates");
            var perParam = trainable.Select((p, i) =>
            {
                var k = Create(prog, source.Launches[i].Head, "update " + Plan.Buffers[p.Param.Value].Name);
                for (int a = 0; a < k.Args.Length; a++)
                {
                    var arg = k.Args[a];
                    if (arg.IsWeight) k.SetMemory(a, Memory(p.Param.Value));
                    else if (arg.IsWeightGrad) k.SetMemory(a, Memory(p.Param.Grad));
                    else if (arg.IsState1) k.SetMemory(a, p.S1);
                    else if (arg.IsState2) k.SetMemory(a, p.S2);
                }
                return k;
            }).ToArray();
            u = (prog, perParam);
            updates[optimizer] = u;
        }
        for (int i = 0; i < trainable.Count; i++)
        {
            var k = u.PerParam[i];
            for (int a = 0; a < k.Args.Length; a++)
                if (StepArithmetic.UpdateScalar(k.Args[a], optimizer, learningRate, trainable[i].Param, t) is { } value) k.SetFloat(a, value);
            k.Run();
        }
    }

    public void ReadProbabilities(Span<float> destination) => arena!.Download(destination, Plan.Offsets[Plan.Probs]);

    public void Dispose()
    {
        Enter();
        foreach (var k in kernels.SelectMany(k => k)) k.Dispose();
        foreach (var (prog, perParam) in updates.Values)
        {
            foreach (var k in perParam) k.Dispose();
            Release(prog);
        }
        updates.Clear();
        if (program != 0) Release(program);
        program = 0;
        arena?.Dispose();
        losses?.Dispose();
        ReleaseDriver();
    }
}
