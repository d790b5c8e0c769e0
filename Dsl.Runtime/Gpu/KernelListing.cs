using Dsl.Compiler;
using Dsl.Compiler.Render;
using Dsl.Core;
using Dsl.Runtime.Cuda;
using Microsoft.FSharp.Collections;

namespace Dsl.Runtime;

/// <summary>A device the kernels are rendered for without opening one: "cuda:sm_80", "cuda:sm_90" or "opencl". CUDA targets
/// carry what the driver reports on an A100 or H100/H200 (1024 threads and 48 KiB of static shared memory per block, 32-wide
/// warps, cp.async, and 163 KiB (sm_80) or 227 KiB (sm_90) of opt-in shared memory per block); "opencl" stands for a GPU
/// with the same sizes and no more than 48 KiB, the tiles `Tuning.choose` gives such a device.</summary>
public sealed record KernelTarget(string Name, Dialect.Dialect Dialect, Target Target, int? Architecture)
{
    public const string Names = "cuda:sm_80, cuda:sm_90 or opencl";

    /// <summary>The target <paramref name="name"/> names, with TF32 tensor cores on CUDA unless <paramref name="precision"/> is Fp32.</summary>
    public static KernelTarget Parse(string name, Precision precision)
    {
        Target Gpu(bool tensorCores, bool asyncCopy, int optInKib) =>
            new(TargetKind.GpuTarget, 1024, 48 * 1024, 4, 32, tensorCores, asyncCopy, optInKib * 1024L);
        return name switch
        {
            "cuda:sm_80" => new(name, Compiler.Render.Dialect.cuda, Gpu(precision != Precision.Fp32, true, 163), 80),
            "cuda:sm_90" => new(name, Compiler.Render.Dialect.cuda, Gpu(precision != Precision.Fp32, true, 227), 90),
            "opencl" => new(name, Compiler.Render.Dialect.opencl, Gpu(false, false, 48), null),
            _ => throw new ArgumentException($"unknown kernel target `{name}`; use {Names}"),
        };
    }

    public string Extension => Architecture is null ? ".cl" : ".cu";
}

/// <summary>One generated source file: which step it serves ("training", "inference", "updates"), its text, and the block size
/// and dynamic shared memory (bytes) each of its kernel functions launches with.</summary>
public sealed record ListedSource(string Step, string Text, IReadOnlyDictionary<string, int> Threads, IReadOnlyDictionary<string, int> DynamicShared);

/// <summary>`dsl kernels`: the sources a device would compile for a network (its training and inference steps and its
/// optimizer's updates), and for CUDA what ptxas made of each kernel, from NVRTC with --ptxas-options=-v. Needs no GPU.</summary>
public static class KernelListing
{
    /// <summary>The three sources of <paramref name="network"/> at <paramref name="batch"/>, with the GEMM tiles
    /// <paramref name="tiles"/> names for <paramref name="target"/>.
    /// A batch whose training arena is past 32-bit indices throws ArgumentException naming a batch that fits.</summary>
    public static IReadOnlyList<ListedSource> Render(Shapes.Inferred network, KernelTarget target, int batch, GemmTiles tiles = GemmTiles.Standard)
    {
        var tuning = GemmTilesChoice.Tuning(target.Target, tiles);
        var training = MemoryPlan.compile(PlanMode.Training, batch, network);
        var inference = MemoryPlan.compile(PlanMode.Inference, batch, network);
        if (StepArithmetic.IndexLimit(training) is { } tooBig) throw new ArgumentException(tooBig);
        var optimizer = network.Network.Train is { } train ? train.Value.Optimizer : TrainConfigModule.defaults.Optimizer;
        var counts = ListModule.OfSeq(training.Params.Select(p => training.Buffers[p.Value].Floats));
        return
        [
            Listed("training", Program.plan(target.Dialect, tuning, training)),
            Listed("inference", Program.plan(target.Dialect, tuning, inference)),
            Listed("updates", Program.updates(target.Dialect, tuning, optimizer, counts)),
        ];
    }

    static ListedSource Listed(string step, Program.Source s)
    {
        var byFunction = s.Launches.SelectMany(ls => ls).GroupBy(l => l.Function).ToList();
        return new(step, s.Text, byFunction.ToDictionary(g => g.Key, g => g.Max(l => l.Local.Item1 * l.Local.Item2 * l.Local.Item3)),
            byFunction.ToDictionary(g => g.Key, g => g.Max(l => l.SharedBytes)));
    }

    /// <summary>Compiles a CUDA source with NVRTC for sm_<paramref name="architecture"/> and returns ptxas's figures per kernel (by name, so
    /// in plan order) with the blocks per SM they allow. Throws DeviceException where there is no NVRTC, or it cannot target the architecture.</summary>
    public static IReadOnlyList<KernelResources> Measure(ListedSource source, int architecture, string label)
    {
        var nvrtc = Nvrtc.Get(out var problem) ?? throw new DeviceException($"CUDA register figures need NVRTC, and there is {problem}");
        var supported = nvrtc.SupportedArchitectures();
        if (supported.Length > 0 && !supported.Contains(architecture))
            throw new DeviceException($"NVRTC {nvrtc.Version} ({nvrtc.Path}) cannot compile for sm_{architecture}; it knows sm_{string.Join(", sm_", supported)}");
        var options = Nvrtc.Options($"sm_{architecture}").Append("--ptxas-options=-v").ToArray();
        nvrtc.Compile(source.Text, label, options, $"kernels-sm_{architecture}", out var log);
        var entries = PtxasReport.Parse(log);
        if (entries.Count == 0) throw new DeviceException($"NVRTC {nvrtc.Version} compiled {label} but its log has no ptxas figures:\n{log}");
        var sm = Occupancy.For(architecture);
        return entries.Select(e =>
        {
            int threads = source.Threads.TryGetValue(e.Function, out var t) ? t : throw new DeviceException($"ptxas names {e.Function}, which {label} does not launch");
            int dynamic = source.DynamicShared[e.Function];
            var (blocks, limit) = Occupancy.BlocksPerSm(sm, threads, e.Registers, e.SharedBytes + dynamic);
            return new KernelResources(e.Function, threads, e.Registers, e.StackFrame, e.SpillStores, e.SpillLoads, e.SharedBytes, dynamic, blocks, limit);
        }).OrderBy(r => r.Function, StringComparer.Ordinal).ToList();
    }
}
