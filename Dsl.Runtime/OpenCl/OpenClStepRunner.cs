using System.Diagnostics;
using System.Text;
using Dsl.Compiler.Render;
using Dsl.Core;
using Dsl.Runtime.Gpu;
using static Dsl.Compiler.Render.CStyle;

namespace Dsl.Runtime.OpenCl;

/// <summary>Runs a plan on an OpenCL device (<see cref="GpuStepRunner{TKernel}"/>): OpenCL C built into a program,
/// kernels enqueued on the device's queue and timed by waiting for each.</summary>
sealed unsafe class OpenClStepRunner : GpuStepRunner<ClKernel>
{
    readonly OpenClDevice device;
    long started;

    public OpenClStepRunner(OpenClDevice device, Plan plan, ParameterSet parameters) : base(plan, parameters, Dialect.opencl, device.Tuning)
    {
        this.device = device;
        CheckMemory(plan, parameters);
        Load(() => (device.Allocate(plan.ArenaFloats, plan.Network + ".arena"), device.Allocate(2L * plan.Batch, plan.Network + ".losses")));
    }

    /// <summary>Stops before any allocation when the step cannot fit, saying what batch would.</summary>
    void CheckMemory(Plan plan, ParameterSet parameters)
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

    protected override string Driver => "OpenCL";
    protected override string DeviceName => device.Name;
    protected override nint Build(string source, string name) => device.Programs.Build(source, name);
    protected override void Release(nint program) => Native.clReleaseProgram(program);
    protected override nint? MemoryOf(IDeviceBuffer buffer) => buffer is OpenClBuffer b ? b.Handle : null;
    protected override void Wait(string what) => device.Finish(what);
    protected override void StartTiming() => started = Stopwatch.GetTimestamp();

    protected override double StopTiming(string what)
    {
        device.Finish(what);
        return Stopwatch.GetElapsedTime(started).TotalSeconds;
    }

    protected override ClKernel Create(nint program, Launch launch, string what)
    {
        int error;
        nint handle;
        fixed (byte* n = Encoding.ASCII.GetBytes(launch.Function + "\0")) handle = Native.clCreateKernel(program, n, &error);
        ClError.Check(error, $"creating kernel {launch.Function}");
        return new ClKernel(handle, device.Queue, launch, what);
    }
}

/// <summary>A created kernel with the launch it belongs to, enqueued on one queue.</summary>
sealed unsafe class ClKernel(nint handle, nint queue, Launch launch, string what) : GpuKernel(launch, what)
{
    nint handle = handle;

    public override void SetMemory(int index, nint memory) =>
        ClError.Check(Native.clSetKernelArg(handle, (uint)index, (nuint)sizeof(nint), &memory), $"setting argument {index} of {Name}");

    public override void SetULong(int index, ulong value) =>
        ClError.Check(Native.clSetKernelArg(handle, (uint)index, sizeof(ulong), &value), $"setting argument {index} of {Name}");

    public override void SetFloat(int index, float value) =>
        ClError.Check(Native.clSetKernelArg(handle, (uint)index, sizeof(float), &value), $"setting argument {index} of {Name}");

    public override void Run()
    {
        var (gx, gy, gz) = Launch.Groups;
        var (lx, ly, lz) = Launch.Local;
        var global = stackalloc nuint[] { (nuint)gx * (nuint)lx, (nuint)gy * (nuint)ly, (nuint)gz * (nuint)lz };
        var local = stackalloc nuint[] { (nuint)lx, (nuint)ly, (nuint)lz };
        ClError.Check(Native.clEnqueueNDRangeKernel(queue, handle, 3, null, global, local, 0, null, null), $"running {Name} ({What})");
    }

    public override void Dispose()
    {
        if (handle != 0) Native.clReleaseKernel(handle);
        handle = 0;
    }
}
