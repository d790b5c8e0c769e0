using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using Dsl.Compiler;
using Dsl.Compiler.Render;
using Dsl.Core;
using static Dsl.Compiler.Render.CStyle;

namespace Dsl.Runtime.OpenCl;

/// <summary>Runs a plan on an OpenCL device: the plan's kernels rendered in OpenCL C and built once, every argument
/// set once (only the step number changes per run), the step's tensors in one arena buffer.</summary>
sealed unsafe class OpenClStepRunner : IStepRunner
{
    readonly OpenClDevice device;
    readonly ParameterSet parameters;
    readonly OpenClBuffer arena, losses;
    readonly nint program;
    /// <summary>The launches of each plan kernel, in order.</summary>
    readonly ClKernel[][] kernels;
    readonly List<ClKernel> stepped = new();
    readonly List<(ParamRef Param, nint S1, nint S2)> trainable = new();
    readonly Dictionary<Optimizer, (nint Program, ClKernel[] PerParam)> updates = new();
    /// <summary>Whether the plan ends in the loss (a plan without one returns NaN from Run, as the CPU device does).</summary>
    readonly bool hasLoss;

    public OpenClStepRunner(OpenClDevice device, Plan plan, ParameterSet parameters)
    {
        this.device = device;
        this.parameters = parameters;
        Plan = plan;
        hasLoss = plan.Kernels.Any(k => k.IsSoftmaxCrossEntropy);
        CheckMemory(plan);
        var source = Program.plan(Dialect.opencl, device.Tuning, plan);
        program = device.Programs.Build(source.Text, $"{plan.Network}-{(plan.Mode.IsTraining ? "training" : "inference")}-b{plan.Batch}");
        arena = (OpenClBuffer)device.Allocate(plan.ArenaFloats, plan.Network + ".arena");
        losses = (OpenClBuffer)device.Allocate(2L * plan.Batch, plan.Network + ".losses");
        kernels = source.Launches.Select((ls, i) => ls.Select(l => Create(program, l, MemoryPlan.describe(plan, plan.Kernels[i]))).ToArray()).ToArray();
        foreach (var k in kernels.SelectMany(k => k))
        {
            for (int a = 0; a < k.Args.Length; a++)
            {
                switch (k.Args[a])
                {
                    case Arg.Buf b: k.SetBuffer(a, Memory(b.id)); break;
                    case var x when x.IsLosses: k.SetBuffer(a, losses.Handle); break;
                    case var x when x.IsSeed: k.SetULong(a, (ulong)parameters.Seed); break;
                    case var x when x.IsStep: stepped.Add(k); break;
                    default: throw new InvalidOperationException($"{k.Name}: argument {k.Args[a]} has no meaning in a step");
                }
            }
        }
        // Optimizer state lives in the parameter set (a checkpoint saves it); the runner only points kernels at it.
        if (plan.Mode.IsTraining)
            foreach (var p in plan.Params)
            {
                var name = plan.Buffers[p.Value].Name;
                nint State(string slot) => parameters.Contains(name + slot) ? Handle(name + slot) : 0;
                trainable.Add((p, State(ParameterSet.OptimizerSlots[0]), State(ParameterSet.OptimizerSlots[1])));
            }
    }

    public Plan Plan { get; }
    public double[]? KernelSeconds { get; set; }

    /// <summary>Stops before any allocation when the step cannot fit, saying what batch would.</summary>
    void CheckMemory(Plan plan)
    {
        if (StepArithmetic.IndexLimit(plan) is { } tooBig) throw new DeviceException("OpenCL: " + tooBig);
        var info = device.Info;
        long arenaBytes = plan.ArenaFloats * sizeof(float);
        long total = StepArithmetic.TotalBytes(plan, parameters.StateSlotsHeld);
        string? why =
            arenaBytes > info.MaxAllocation ? $"{DeviceMemory.Mib(arenaBytes)} in one buffer, and {info.Name} allows {DeviceMemory.Mib(info.MaxAllocation)} per buffer" :
            total > info.GlobalMemory ? $"{DeviceMemory.Mib(total)}, and {info.Name} has {DeviceMemory.Mib(info.GlobalMemory)}" : null;
        if (why is null) return;
        long fixedBytes = total - arenaBytes;
        int fits = StepArithmetic.LargestBatch(Math.Min(info.MaxAllocation, info.GlobalMemory - fixedBytes), arenaBytes, plan.Batch);
        throw new DeviceException($"OpenCL: a {(plan.Mode.IsTraining ? "training" : "inference")} step of {plan.Network} at batch {plan.Batch} needs {why}; " +
            StepArithmetic.FitAdvice(fits));
    }

    nint Memory(int id) => Plan.Offsets.ContainsKey(id) ? arena.Handle : Handle(Plan.Buffers[id].Name);

    nint Handle(string name) => parameters[name] is OpenClBuffer b ? b.Handle
        : throw new DeviceException($"OpenCL: {name} lives on {parameters.Device.Name}, not on {device.Name}");

    ClKernel Create(nint prog, Launch launch, string what)
    {
        int error;
        nint handle;
        fixed (byte* n = Encoding.ASCII.GetBytes(launch.Function + "\0")) handle = Native.clCreateKernel(prog, n, &error);
        ClError.Check(error, $"creating kernel {launch.Function}");
        return new ClKernel(handle, launch, what);
    }

    public void SetBatch(ReadOnlySpan<float> images, ReadOnlySpan<int> batchLabels)
    {
        for (int i = 0; i < batchLabels.Length; i++)
            if ((uint)batchLabels[i] >= (uint)Plan.Classes)
                throw new ArgumentOutOfRangeException(nameof(batchLabels), $"label {batchLabels[i]} of sample {i} is not in [0, {Plan.Classes})");
        arena.Upload(images, Plan.Offsets[Plan.Images]);
        arena.Upload(MemoryMarshal.Cast<int, float>(batchLabels), Plan.Offsets[Plan.Labels]);
    }

    public double Run(long step)
    {
        foreach (var k in stepped) k.SetULong(k.IndexOf(x => x.IsStep), (ulong)step);
        for (int i = 0; i < kernels.Length; i++)
        {
            long started = Stopwatch.GetTimestamp();
            foreach (var k in kernels[i]) k.Enqueue(device.Queue);
            if (KernelSeconds is { } times)
            {
                device.Finish($"running {kernels[i][0].What}");
                times[i] += Stopwatch.GetElapsedTime(started).TotalSeconds;
            }
        }
        if (!hasLoss)
        {
            device.Finish("running the step");
            return double.NaN;
        }
        var perExample = new float[2 * Plan.Batch];
        losses.Download(perExample);
        return StepArithmetic.MeanLoss(perExample, Plan.Batch);
    }

    public void Update(Optimizer optimizer, double learningRate, long t)
    {
        if (!updates.TryGetValue(optimizer, out var u))
        {
            var counts = trainable.Select(p => Plan.Buffers[p.Param.Value].Floats).ToList();
            var source = Program.updates(Dialect.opencl, device.Tuning, optimizer, Microsoft.FSharp.Collections.ListModule.OfSeq(counts));
            var prog = device.Programs.Build(source.Text, $"{Plan.Network}-updates");
            var perParam = trainable.Select((p, i) =>
            {
                var k = Create(prog, source.Launches[i].Head, "update " + Plan.Buffers[p.Param.Value].Name);
                for (int a = 0; a < k.Args.Length; a++)
                {
                    var arg = k.Args[a];
                    if (arg.IsWeight) k.SetBuffer(a, Memory(p.Param.Value));
                    else if (arg.IsWeightGrad) k.SetBuffer(a, Memory(p.Param.Grad));
                    else if (arg.IsState1) k.SetBuffer(a, p.S1);
                    else if (arg.IsState2) k.SetBuffer(a, p.S2);
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
            k.Enqueue(device.Queue);
        }
    }

    public void ReadProbabilities(Span<float> destination) => arena.Download(destination, Plan.Offsets[Plan.Probs]);

    public void Dispose()
    {
        foreach (var k in kernels.SelectMany(k => k)) k.Dispose();
        foreach (var (prog, perParam) in updates.Values)
        {
            foreach (var k in perParam) k.Dispose();
            Native.clReleaseProgram(prog);
        }
        updates.Clear();
        if (program != 0) Native.clReleaseProgram(program);
        arena.Dispose();
        losses.Dispose();
    }
}

/// <summary>A created kernel with the launch it belongs to.</summary>
sealed unsafe class ClKernel(nint handle, Launch launch, string what) : IDisposable
{
    nint handle = handle;
    public string Name => launch.Function;
    /// <summary>The plan kernel it runs, for messages (`ConvForward conv1+relu`).</summary>
    public string What => what;
    public Arg[] Args { get; } = launch.Args.ToArray();

    public int IndexOf(Func<Arg, bool> which) => Array.FindIndex(Args, a => which(a));

    public void SetBuffer(int index, nint memory) =>
        ClError.Check(Native.clSetKernelArg(handle, (uint)index, (nuint)sizeof(nint), &memory), $"setting argument {index} of {Name}");

    public void SetULong(int index, ulong value) =>
        ClError.Check(Native.clSetKernelArg(handle, (uint)index, sizeof(ulong), &value), $"setting argument {index} of {Name}");

    public void SetFloat(int index, float value) =>
        ClError.Check(Native.clSetKernelArg(handle, (uint)index, sizeof(float), &value), $"setting argument {index} of {Name}");

    public void Enqueue(nint queue)
    {
        var (gx, gy, gz) = launch.Groups;
        var (lx, ly, lz) = launch.Local;
        var global = stackalloc nuint[] { (nuint)gx * (nuint)lx, (nuint)gy * (nuint)ly, (nuint)gz * (nuint)lz };
        var local = stackalloc nuint[] { (nuint)lx, (nuint)ly, (nuint)lz };
        ClError.Check(Native.clEnqueueNDRangeKernel(queue, handle, 3, null, global, local, 0, null, null), $"running {Name} ({What})");
    }

    public void Dispose()
    {
        if (handle != 0) Native.clReleaseKernel(handle);
        handle = 0;
    }
}
