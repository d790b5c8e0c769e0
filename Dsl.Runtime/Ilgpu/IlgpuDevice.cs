using Dsl.Core;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using ILGPU.Algorithms;

namespace Dsl.Runtime.Ilgpu;

/// <summary>A device whose kernels ILGPU compiles from C# (Ilgpu/Kernels): a CUDA GPU through ILGPU's PTX backend and the
/// driver alone (no NVRTC), or ILGPU's CPU accelerator, which runs every kernel (groups, barriers and shared memory as
/// .NET threads) on a machine without a GPU; slow, for checks on small cases.</summary>
public sealed class IlgpuDevice : IDevice
{
    readonly Context context;
    readonly DeviceMemory memory = new();

    /// <summary>The optimisation level of every ILGPU compilation (the step's kernels and `dsl kernels --target ilgpu`).
    /// O1: the 2026-11-29 evaluation saw O2 move a shared-memory load past a barrier (docs/design.md); the barrier test
    /// (IlgpuBarrierTests) and the ptxas budgets hold at O1.</summary>
    public const OptimizationLevel Level = OptimizationLevel.O1;

    IlgpuDevice(Context context, Accelerator accelerator, string name)
    {
        this.context = context;
        Accelerator = accelerator;
        // The CPU accelerator runs a group's threads as .NET threads: small groups keep its barriers cheap.
        GroupSize = Math.Min(256, accelerator.MaxNumThreadsPerGroup);
        Name = name;
    }

    internal Accelerator Accelerator { get; }

    /// <summary>Threads per group of the explicitly grouped kernels (batch norm, bias sums).</summary>
    internal int GroupSize { get; }

    /// <summary>The most threads a launch of one thread per element starts: what the device runs at once.</summary>
    internal int Threads => Accelerator.MaxNumThreads;

    /// <summary>Compiler options shared by every ILGPU context dsl creates (its level, ILGPU.Algorithms).</summary>
    public static Context.Builder Configure(Context.Builder builder) => builder.Optimize(Level).EnableAlgorithms();

    /// <summary>ILGPU's CPU accelerator: present everywhere.</summary>
    public static IlgpuDevice OpenCpu()
    {
        var context = Context.Create(b => Configure(b.CPU(new CPUDevice(numThreadsPerWarp: 4, numWarpsPerMultiprocessor: 1, numMultiprocessors: Environment.ProcessorCount))));
        var cpu = context.CreateCPUAccelerator(0);
        return new IlgpuDevice(context, cpu, $"ILGPU CPU accelerator ({cpu.MaxNumThreads} threads, ILGPU kernels)");
    }

    /// <summary>The CUDA GPUs ILGPU finds (by name), and why there are none where there are none.</summary>
    public static IReadOnlyList<string> CudaGpus(out string? problem)
    {
        problem = null;
        try
        {
            using var context = Context.Create(b => b.Cuda());
            var found = new List<string>();
            foreach (var d in context.GetCudaDevices()) found.Add($"{d.Name} ({d.Architecture})");
            if (found.Count == 0) problem = "ILGPU finds no CUDA device (it needs the NVIDIA driver's libcuda and a GPU it supports)";
            return found;
        }
        catch (Exception e)
        {
            problem = $"ILGPU could not load CUDA: {e.GetType().Name}: {e.Message}";
            return [];
        }
    }

    /// <summary>The first CUDA GPU, its kernels compiled by ILGPU.</summary>
    public static IlgpuDevice OpenCuda()
    {
        Context? context = null;
        try
        {
            context = Context.Create(b => Configure(b.Cuda()));
            if (context.GetCudaDevices().Count == 0)
                throw new DeviceException("no CUDA device for ILGPU kernels: ILGPU finds no GPU (it needs the NVIDIA driver's libcuda); use --device cpu or --device ilgpu-cpu");
            var gpu = context.CreateCudaAccelerator(0);
            return new IlgpuDevice(context, gpu, $"CUDA {gpu.Name} ({gpu.Architecture}, {gpu.NumMultiprocessors} SMs, {DeviceMemory.Mib(gpu.MemorySize)}, ILGPU kernels)");
        }
        catch (Exception e) when (e is not DeviceException)
        {
            context?.Dispose();
            throw new DeviceException($"no CUDA device for ILGPU kernels: {e.GetType().Name}: {e.Message}; use --device cpu or --device ilgpu-cpu", e);
        }
        catch
        {
            context?.Dispose();
            throw;
        }
    }

    public string Name { get; }
    public int LiveBuffers => memory.Buffers;
    public long LiveBytes => memory.Live;
    public long PeakBytes => memory.Peak;
    public void ResetPeak() => memory.ResetPeak();

    public IDeviceBuffer Allocate(long floats, string name)
    {
        var b = new IlgpuBuffer(this, Accelerator, floats, name);
        memory.Allocated(floats);
        return b;
    }

    internal void Released(long floats) => memory.Released(floats);

    /// <summary>Waits for everything queued; a failure names <paramref name="what"/>.</summary>
    internal void Wait(string what)
    {
        try { Accelerator.Synchronize(); }
        catch (Exception e) when (e is not DeviceException)
        {
            throw new DeviceException($"{Name}: {what} failed: {e.GetType().Name}: {e.Message}", e);
        }
    }

    public IStepRunner Load(Plan plan, ParameterSet parameters) => new IlgpuStepRunner(this, plan, parameters);

    public void Dispose()
    {
        Accelerator.Dispose();
        context.Dispose();
    }
}
