using Dsl.Core;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace Dsl.Runtime.Ilgpu;

/// <summary>The PTX ILGPU writes for a plan's kernels, without a GPU (`dsl kernels FILE --target ilgpu:sm_80|ilgpu:sm_90`):
/// the same launches the step runner compiles, at the same optimisation level, for ptxas to judge.</summary>
public static class IlgpuPtx
{
    public const string Targets = "ilgpu:sm_80 or ilgpu:sm_90";

    /// <summary>Threads per block the figures assume: the explicit groups' size on a GPU, and what the element kernels'
    /// launches are held to.</summary>
    public const int BlockThreads = 256;

    /// <summary>One kernel: its name (plan position and kind, or the optimizer update) and its PTX.</summary>
    public sealed record Kernel(string Name, string Ptx);

    /// <summary>The architecture of an `ilgpu:sm_XX` target, or null where the name is not one.</summary>
    public static int? Architecture(string target) => target switch
    {
        "ilgpu:sm_80" => 80,
        "ilgpu:sm_90" => 90,
        _ => null,
    };

    /// <summary>Every distinct kernel of the plans (and, for a training plan, the SGD, Adam and RMSProp updates), compiled
    /// for sm_<paramref name="architecture"/> (PTX ISA 7.8, what ptxas 11.8 reads). Sizes are arguments, so plans of one
    /// network at other batches, or of other networks with the same layer kinds, share kernels.</summary>
    public static IReadOnlyList<Kernel> Compile(IEnumerable<Plan> plans, int architecture)
    {
        var arch = architecture switch
        {
            80 => CudaArchitecture.SM_80,
            90 => CudaArchitecture.SM_90,
            _ => throw new ArgumentException($"ILGPU's PTX is listed for sm_80 and sm_90, not sm_{architecture}; use {Targets}"),
        };
        using var context = Context.Create(b => IlgpuDevice.Configure(b));
        using var backend = new PTXBackend(context, new CudaCapabilityContext(arch), arch, CudaInstructionSet.ISA_78, null);
        var launches = plans.SelectMany(plan => IlgpuProgram.Of(plan, _ => default, () => default, 0, () => 0).SelectMany(l => l)).ToList();
        if (plans.Any(plan => plan.Mode.IsTraining))
            launches.AddRange(new[] { Optimizer.NewSgd(0.01, 0.9, false, 0.0), Optimizer.NewAdam(0.001, 0.9, 0.999, 1e-8, 0.0), Optimizer.NewRmsProp(0.01, 0.99, 1e-8, 0.9, 0.0) }
                .Select(o => IlgpuProgram.Update(o, 1, _ => default)));
        return launches.GroupBy(l => l.Method).Select(g =>
        {
            var l = g.First();
            var entry = l.Grouped ? EntryPointDescription.FromExplicitlyGroupedKernel(l.Method) : EntryPointDescription.FromImplicitlyGroupedKernel(l.Method);
            var spec = l.Grouped ? new KernelSpecialization(BlockThreads, null) : KernelSpecialization.Empty;
            return new Kernel(l.Name, ((PTXCompiledKernel)backend.Compile(entry, spec)).PTXAssembly);
        }).ToList();
    }
}
