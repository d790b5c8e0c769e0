using System.Diagnostics;
using System.Runtime.InteropServices;
using Dsl.Core;
using Dsl.Runtime.Ilgpu.Kernels;
using ILGPU;
using ILGPU.Runtime;

namespace Dsl.Runtime.Ilgpu;

/// <summary>Runs a plan's kernels as ILGPU kernels over one arena, as the C-rendering GPU runner does: every kernel
/// compiled once, the step's tensors in one arena buffer, the losses summed on the host in double, the optimizer's
/// update kernel compiled on first use.</summary>
sealed class IlgpuStepRunner : IStepRunner
{
    readonly IlgpuDevice device;
    readonly ParameterSet parameters;
    readonly IlgpuBuffer arena, losses;
    readonly Action<long>[][] kernels;
    readonly string[] what;
    readonly List<(ParamRef Param, ArrayView<float> S1, ArrayView<float> S2)> trainable = new();
    /// <summary>Each optimizer's update launches, one per trainable tensor, compiled on first use; they read the learning
    /// rate and the update count of the current <see cref="Update"/>.</summary>
    readonly Dictionary<Optimizer, Action<long>[]> updates = new();
    double learningRate;
    readonly bool hasLoss;

    public IlgpuStepRunner(IlgpuDevice device, Plan plan, ParameterSet parameters)
    {
        if (StepArithmetic.IndexLimit(plan) is { } limit) throw new DeviceException($"ILGPU: {limit}");
        Plan = plan;
        this.device = device;
        this.parameters = parameters;
        hasLoss = plan.Kernels.Any(k => k.IsSoftmaxCrossEntropy);
        arena = (IlgpuBuffer)device.Allocate(plan.ArenaFloats, plan.Network + ".arena");
        losses = (IlgpuBuffer)device.Allocate(2L * plan.Batch, plan.Network + ".losses");
        try
        {
            var launches = IlgpuProgram.Of(plan, View, () => losses.View, (ulong)parameters.Seed, () => FirstSample);
            kernels = launches.Select(ls => ls.Select(l => Compile(l.Name, () => l.Load(device.Accelerator, device.GroupSize, device.Threads))).ToArray()).ToArray();
            what = plan.Kernels.Select(k => Dsl.Compiler.MemoryPlan.describe(plan, k)).ToArray();
            if (plan.Mode.IsTraining)
                foreach (var p in plan.Params)
                {
                    var name = plan.Buffers[p.Value].Name;
                    ArrayView<float> State(string slot) => parameters.Contains(name + slot) ? Parameter(name + slot) : default;
                    trainable.Add((p, State(ParameterSet.OptimizerSlots[0]), State(ParameterSet.OptimizerSlots[1])));
                }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public Plan Plan { get; }
    public double[]? KernelSeconds { get; set; }
    public long FirstSample { get; set; }

    /// <summary>A buffer's memory: in the arena where the plan placed it, else the parameter set's buffer of its name.</summary>
    ArrayView<float> View(int id) =>
        Plan.Offsets.TryFind(id) is { } offset ? arena.View.SubView(offset.Value, Plan.Buffers[id].Floats) : Parameter(Plan.Buffers[id].Name);

    ArrayView<float> Parameter(string name) => parameters[name] is IlgpuBuffer b
        ? b.View
        : throw new DeviceException($"ILGPU: {name} lives on {parameters.Device.Name}, not on {device.Name}");

    /// <summary>Compiles one kernel; ILGPU's own failure names the kernel it was compiling.</summary>
    static T Compile<T>(string name, Func<T> load)
    {
        try { return load(); }
        catch (Exception e) when (e is not DeviceException)
        {
            throw new DeviceException($"ILGPU could not compile {name}: {e.GetType().Name}: {e.Message}", e);
        }
    }

    public void SetBatch(ReadOnlySpan<float> images, ReadOnlySpan<int> labels)
    {
        StepArithmetic.CheckLabels(labels, Plan.Classes, nameof(labels));
        arena.Upload(images, Plan.Offsets[Plan.Images]);
        arena.Upload(MemoryMarshal.Cast<int, float>(labels), Plan.Offsets[Plan.Labels]);
    }

    public double Run(long step)
    {
        for (int i = 0; i < kernels.Length; i++)
        {
            long started = Stopwatch.GetTimestamp();
            foreach (var k in kernels[i]) k(step);
            if (KernelSeconds is { } times)
            {
                device.Wait($"running {what[i]}");
                times[i] += Stopwatch.GetElapsedTime(started).TotalSeconds;
            }
        }
        device.Wait("running the step");
        if (!hasLoss) return double.NaN;
        var perExample = new float[2 * Plan.Batch];
        losses.Download(perExample);
        return StepArithmetic.MeanLoss(perExample, Plan.Batch);
    }

    public void Update(Optimizer optimizer, double learningRate, long t)
    {
        if (!updates.TryGetValue(optimizer, out var launches))
            updates[optimizer] = launches = trainable.Select(p =>
            {
                var update = IlgpuProgram.Update(optimizer, Plan.Buffers[p.Param.Value].Floats, step => Arguments(optimizer, p, step));
                return Compile(update.Name, () => update.Load(device.Accelerator, device.GroupSize, device.Threads));
            }).ToArray();
        this.learningRate = learningRate;
        foreach (var run in launches) run(t);
        device.Wait("updating the parameters");
    }

    UpdateArgs Arguments(Optimizer optimizer, (ParamRef Param, ArrayView<float> S1, ArrayView<float> S2) p, long t)
    {
        var args = IlgpuProgram.UpdateArgs(optimizer, learningRate, p.Param, t);
        args.W = View(p.Param.Value);
        args.G = View(p.Param.Grad);
        args.S1 = p.S1;
        args.S2 = p.S2;
        return args;
    }

    public void ReadProbabilities(Span<float> destination) => arena.Download(destination, Plan.Offsets[Plan.Probs]);

    public void Dispose()
    {
        arena?.Dispose();
        losses?.Dispose();
    }
}
