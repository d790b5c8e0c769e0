using System.Runtime.InteropServices;
using System.Text;
using Dsl.Compiler.Render;
using Dsl.Core;
using Dsl.Runtime.Gpu;
using static Dsl.Compiler.Render.CStyle;

namespace Dsl.Runtime.Cuda;

/// <summary>Runs a plan on a CUDA device (<see cref="GpuStepRunner{TKernel}"/>): CUDA C compiled by NVRTC into a
/// module, launches on the device's stream, kernels timed with events.</summary>
sealed unsafe class CudaStepRunner : GpuStepRunner<CuKernel>
{
    readonly CudaDevice device;
    readonly nint start, stop;

    public CudaStepRunner(CudaDevice device, Plan plan, ParameterSet parameters) : base(plan, parameters, Dialect.cuda, device.Tuning)
    {
        this.device = device;
        if (StepArithmetic.IndexLimit(plan) is { } tooBig) throw new DeviceException("CUDA: " + tooBig);
        nint e0, e1;
        CuError.Check(device.Cu.cuEventCreate(&e0, 0), "creating a timing event");
        CuError.Check(device.Cu.cuEventCreate(&e1, 0), "creating a timing event");
        (start, stop) = (e0, e1);
        Load(() => (device.Allocate(plan.ArenaFloats, plan.Network + ".arena", free => OutOfMemory(plan, parameters.StateSlotsHeld, free)),
                    device.Allocate(2L * plan.Batch, plan.Network + ".losses", null)));
    }

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

    protected override string Driver => "CUDA";
    protected override string DeviceName => device.Name;
    protected override nint Build(string source, string name) => device.Programs.Build(source, name);
    protected override void Release(nint module) => device.Cu.cuModuleUnload(module);
    protected override nint? MemoryOf(IDeviceBuffer buffer) => buffer is CudaBuffer b ? (nint)b.Pointer : null;
    protected override void Enter() => device.MakeCurrent();
    protected override void Wait(string what) => device.Synchronize(what);

    protected override CuKernel Create(nint module, Launch launch, string what)
    {
        nint function;
        fixed (byte* n = Encoding.ASCII.GetBytes(launch.Function + "\0")) CuError.Check(device.Cu.cuModuleGetFunction(&function, module, n), $"finding kernel {launch.Function}");
        return new CuKernel(device, function, launch, what);
    }

    protected override void StartTiming() => CuError.Check(device.Cu.cuEventRecord(start, device.Stream), "recording a timing event");

    protected override double StopTiming(string what)
    {
        CuError.Check(device.Cu.cuEventRecord(stop, device.Stream), "recording a timing event");
        CuError.Check(device.Cu.cuEventSynchronize(stop), what);
        float ms;
        CuError.Check(device.Cu.cuEventElapsedTime(&ms, start, stop), "reading a timing event");
        return ms / 1000.0;
    }

    protected override void ReleaseDriver()
    {
        device.Cu.cuEventDestroy(start);
        device.Cu.cuEventDestroy(stop);
    }
}

/// <summary>A kernel function with its launch and its argument values: cuLaunchKernel takes an array of pointers to the
/// values, so each argument has an 8-byte slot in native memory that outlives every launch.</summary>
sealed unsafe class CuKernel : GpuKernel
{
    readonly CudaDevice device;
    readonly nint function;
    ulong* slots;
    void** pointers;

    public CuKernel(CudaDevice device, nint function, Launch launch, string what) : base(launch, what)
    {
        this.device = device;
        this.function = function;
        // Past 48 KiB a block gets dynamic shared memory only where the kernel was allowed it (the pipelined GEMM's stages).
        if (launch.SharedBytes > 48 * 1024)
            CuError.Check(device.Cu.cuFuncSetAttribute(function, Driver.FuncAttrMaxDynamicSharedSizeBytes, launch.SharedBytes),
                $"allowing {Name} ({what}) {launch.SharedBytes} bytes of dynamic shared memory");
        slots = (ulong*)NativeMemory.AllocZeroed((nuint)Math.Max(1, Args.Length), sizeof(ulong));
        pointers = (void**)NativeMemory.Alloc((nuint)Math.Max(1, Args.Length), (nuint)sizeof(void*));
        for (int i = 0; i < Args.Length; i++) pointers[i] = slots + i;
    }

    public override void SetMemory(int index, nint pointer) => slots[index] = (ulong)pointer;
    public override void SetULong(int index, ulong value) => slots[index] = value;
    public override void SetFloat(int index, float value) => *(float*)(slots + index) = value;

    /// <summary>CUDA's grid counts blocks, which is the renderer's count of work-groups.</summary>
    public override void Run()
    {
        var (gx, gy, gz) = Launch.Groups;
        var (lx, ly, lz) = Launch.Local;
        CuError.Check(device.Cu.cuLaunchKernel(function, (uint)gx, (uint)gy, (uint)gz, (uint)lx, (uint)ly, (uint)lz, (uint)Launch.SharedBytes, device.Stream, pointers, null),
            $"running {Name} ({What})");
    }

    public override void Dispose()
    {
        if (slots == null) return;
        NativeMemory.Free(slots);
        NativeMemory.Free(pointers);
        slots = null;
        pointers = null;
    }
}
