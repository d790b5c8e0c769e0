using System.Runtime.InteropServices;
using System.Text;
using Dsl.Compiler;
using Dsl.Compiler.Render;
using Dsl.Core;
using static Dsl.Compiler.Render.CStyle;

namespace Dsl.Runtime.Cuda;

/// <summary>Runs a plan on a CUDA device: the plan's kernels rendered in CUDA C and compiled once, every argument
/// set once (only the step number changes per run), the step's tensors in one arena buffer, launches on the device's stream.</summary>
sealed unsafe class CudaStepRunner : IStepRunner
{
    readonly CudaDevice device;
    readonly ParameterSet parameters;
    readonly CudaBuffer arena, losses;
    readonly nint module;
    /// <summary>The launches of each plan kernel, in order.</summary>
    readonly CuKernel[][] kernels;
    readonly List<CuKernel> stepped = new();
    readonly List<(ParamRef Param, ulong S1, ulong S2)> trainable = new();
    readonly Dictionary<Optimizer, (nint Module, CuKernel[] PerParam)> updates = new();
    readonly bool hasLoss;
    readonly nint start, stop;

    public CudaStepRunner(CudaDevice device, Plan plan, ParameterSet parameters)
    {
        this.device = device;
        this.parameters = parameters;
        Plan = plan;
        hasLoss = plan.Kernels.Any(k => k.IsSoftmaxCrossEntropy);
        if (StepArithmetic.IndexLimit(plan) is { } tooBig) throw new DeviceException("CUDA: " + tooBig);
        var source = Program.plan(Dialect.cuda, device.Tuning, plan);
        module = device.Programs.Build(source.Text, $"{plan.Network}-{(plan.Mode.IsTraining ? "training" : "inference")}-b{plan.Batch}");
        losses = device.Allocate(2L * plan.Batch, plan.Network + ".losses", null);
        arena = device.Allocate(plan.ArenaFloats, plan.Network + ".arena", free => OutOfMemory(plan, parameters.StateSlotsHeld, free));
        kernels = source.Launches.Select((ls, i) => ls.Select(l => Create(module, l, MemoryPlan.describe(plan, plan.Kernels[i]))).ToArray()).ToArray();
        foreach (var k in kernels.SelectMany(k => k))
            for (int a = 0; a < k.Args.Length; a++)
                switch (k.Args[a])
                {
                    case Arg.Buf b: k.SetPointer(a, Memory(b.id)); break;
                    case var x when x.IsLosses: k.SetPointer(a, losses.Pointer); break;
                    case var x when x.IsSeed: k.SetULong(a, (ulong)parameters.Seed); break;
                    case var x when x.IsStep: stepped.Add(k); break;
                    default: throw new InvalidOperationException($"{k.Name}: argument {k.Args[a]} has no meaning in a step");
                }
        // Optimizer state lives in the parameter set (a checkpoint saves it); the runner only points kernels at it.
        if (plan.Mode.IsTraining)
            foreach (var p in plan.Params)
            {
                var name = plan.Buffers[p.Value].Name;
                ulong State(string slot) => parameters.Contains(name + slot) ? Pointer(name + slot) : 0;
                trainable.Add((p, State(ParameterSet.OptimizerSlots[0]), State(ParameterSet.OptimizerSlots[1])));
            }
        nint e0, e1;
        CuError.Check(device.Cu.cuEventCreate(&e0, 0), "creating a timing event");
        CuError.Check(device.Cu.cuEventCreate(&e1, 0), "creating a timing event");
        (start, stop) = (e0, e1);
    }

    public Plan Plan { get; }
    public double[]? KernelSeconds { get; set; }

    /// <summary>The arena did not fit in the memory left once parameters (and optimizer state) were placed: say what batch would.</summary>
    static string OutOfMemory(Plan plan, int stateSlots, long free)
    {
        long arenaBytes = plan.ArenaFloats * sizeof(float);
        long total = StepArithmetic.TotalBytes(plan, stateSlots);
        int fits = StepArithmetic.LargestBatch(free, arenaBytes, plan.Batch);
        return $"CUDA: a {(plan.Mode.IsTraining ? "training" : "inference")} step of {plan.Network} at batch {plan.Batch} needs " +
            $"{DeviceMemory.Mib(total)} ({DeviceMemory.Mib(arenaBytes)} for the batch's tensors, {DeviceMemory.Mib(total - arenaBytes)} for parameters and optimizer state), " +
            $"and {DeviceMemory.Mib(free)} is free after the parameters; {StepArithmetic.FitAdvice(fits)}";
    }

    ulong Memory(int id) => Plan.Offsets.ContainsKey(id) ? arena.Pointer : Pointer(Plan.Buffers[id].Name);

    ulong Pointer(string name) => parameters[name] is CudaBuffer b ? b.Pointer
        : throw new DeviceException($"CUDA: {name} lives on {parameters.Device.Name}, not on {device.Name}");

    CuKernel Create(nint mod, Launch launch, string what)
    {
        nint function;
        fixed (byte* n = Encoding.ASCII.GetBytes(launch.Function + "\0")) CuError.Check(device.Cu.cuModuleGetFunction(&function, mod, n), $"finding kernel {launch.Function}");
        return new CuKernel(device, function, launch, what);
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
        device.MakeCurrent();
        foreach (var k in stepped) k.SetULong(k.IndexOf(x => x.IsStep), (ulong)step);
        for (int i = 0; i < kernels.Length; i++)
        {
            if (KernelSeconds is not null) CuError.Check(device.Cu.cuEventRecord(start, device.Stream), "recording a timing event");
            foreach (var k in kernels[i]) k.Launch();
            if (KernelSeconds is { } times)
            {
                CuError.Check(device.Cu.cuEventRecord(stop, device.Stream), "recording a timing event");
                CuError.Check(device.Cu.cuEventSynchronize(stop), $"running {kernels[i][0].What}");
                float ms;
                CuError.Check(device.Cu.cuEventElapsedTime(&ms, start, stop), "reading a timing event");
                times[i] += ms / 1000.0;
            }
        }
        if (!hasLoss)
        {
            device.Synchronize("running the step");
            return double.NaN;
        }
        var perExample = new float[2 * Plan.Batch];
        losses.Download(perExample);
        return StepArithmetic.MeanLoss(perExample, Plan.Batch);
    }

    public void Update(Optimizer optimizer, double learningRate, long t)
    {
        device.MakeCurrent();
        if (!updates.TryGetValue(optimizer, out var u))
        {
            var counts = trainable.Select(p => Plan.Buffers[p.Param.Value].Floats).ToList();
            var source = Program.updates(Dialect.cuda, device.Tuning, optimizer, Microsoft.FSharp.Collections.ListModule.OfSeq(counts));
            var mod = device.Programs.Build(source.Text, $"{Plan.Network}-updates");
            var perParam = trainable.Select((p, i) =>
            {
                var k = Create(mod, source.Launches[i].Head, "update " + Plan.Buffers[p.Param.Value].Name);
                for (int a = 0; a < k.Args.Length; a++)
                {
                    var arg = k.Args[a];
                    if (arg.IsWeight) k.SetPointer(a, Memory(p.Param.Value));
                    else if (arg.IsWeightGrad) k.SetPointer(a, Memory(p.Param.Grad));
                    else if (arg.IsState1) k.SetPointer(a, p.S1);
                    else if (arg.IsState2) k.SetPointer(a, p.S2);
                }
                return k;
            }).ToArray();
            u = (mod, perParam);
            updates[optimizer] = u;
        }
        for (int i = 0; i < trainable.Count; i++)
        {
            var k = u.PerParam[i];
            for (int a = 0; a < k.Args.Length; a++)
                if (StepArithmetic.UpdateScalar(k.Args[a], optimizer, learningRate, trainable[i].Param, t) is { } value) k.SetFloat(a, value);
            k.Launch();
        }
    }

    public void ReadProbabilities(Span<float> destination) => arena.Download(destination, Plan.Offsets[Plan.Probs]);

    public void Dispose()
    {
        device.MakeCurrent();
        foreach (var k in kernels.SelectMany(k => k)) k.Dispose();
        foreach (var (mod, perParam) in updates.Values)
        {
            foreach (var k in perParam) k.Dispose();
            device.Cu.cuModuleUnload(mod);
        }
        updates.Clear();
        if (module != 0) device.Cu.cuModuleUnload(module);
        device.Cu.cuEventDestroy(start);
        device.Cu.cuEventDestroy(stop);
        arena.Dispose();
        losses.Dispose();
    }
}

/// <summary>A kernel function with its launch and its argument values: cuLaunchKernel takes an array of pointers to the
/// values, so each argument has an 8-byte slot in native memory that outlives every launch.</summary>
sealed unsafe class CuKernel : IDisposable
{
    readonly CudaDevice device;
    readonly nint function;
    readonly Launch launch;
    ulong* slots;
    void** pointers;

    public CuKernel(CudaDevice device, nint function, Launch launch, string what)
    {
        this.device = device;
        this.function = function;
        this.launch = launch;
        What = what;
        Args = launch.Args.ToArray();
        slots = (ulong*)NativeMemory.AllocZeroed((nuint)Math.Max(1, Args.Length), sizeof(ulong));
        pointers = (void**)NativeMemory.Alloc((nuint)Math.Max(1, Args.Length), (nuint)sizeof(void*));
        for (int i = 0; i < Args.Length; i++) pointers[i] = slots + i;
    }

    public string Name => launch.Function;
    public string What { get; }
    public Arg[] Args { get; }

    public int IndexOf(Func<Arg, bool> which) => Array.FindIndex(Args, a => which(a));

    public void SetPointer(int index, ulong pointer) => slots[index] = pointer;
    public void SetULong(int index, ulong value) => slots[index] = value;
    public void SetFloat(int index, float value) => *(float*)(slots + index) = value;

    /// <summary>CUDA's grid counts blocks, which is the renderer's count of work-groups.</summary>
    public void Launch()
    {
        var (gx, gy, gz) = launch.Groups;
        var (lx, ly, lz) = launch.Local;
        CuError.Check(device.Cu.cuLaunchKernel(function, (uint)gx, (uint)gy, (uint)gz, (uint)lx, (uint)ly, (uint)lz, 0, device.Stream, pointers, null),
            $"running {Name} ({What})");
    }

    public void Dispose()
    {
        if (slots == null) return;
        NativeMemory.Free(slots);
        NativeMemory.Free(pointers);
        slots = null;
        pointers = null;
    }
}
