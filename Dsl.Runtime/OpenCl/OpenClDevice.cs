using System.Runtime.CompilerServices;
using Dsl.Core;
using Dsl.Compiler.Render;

// The backend tests build deliberately broken source through the program cache.
[assembly: InternalsVisibleTo("Dsl.Runtime.Tests")]

namespace Dsl.Runtime.OpenCl;

/// <summary>An OpenCL device: one context and one in-order queue. Plans run as kernels the compiler renders in the
/// OpenCL C dialect, with work-group and tile sizes chosen for the device (or given).</summary>
public sealed unsafe class OpenClDevice : IDevice
{
    readonly DeviceMemory memory = new();

    /// <summary>Opens the device <paramref name="info"/> describes; <paramref name="tuning"/> overrides the compiler's choice of sizes.</summary>
    public OpenClDevice(OpenClDeviceInfo info, Tuning? tuning = null)
    {
        Info = info;
        Tuning = tuning ?? TuningModule.choose(info.Target);
        if (TuningModule.problem(info.Target, Tuning) is { } problem)
            throw new DeviceException($"OpenCL: the kernel sizes do not suit {info.Name}: {problem.Value}");
        nint device = info.DeviceId;
        var properties = stackalloc nint[] { Native.ContextPlatform, info.PlatformId, 0 };
        int error;
        Context = Native.clCreateContext(properties, 1, &device, 0, 0, &error);
        ClError.Check(error, $"opening {info.Name}");
        Queue = Native.clCreateCommandQueue(Context, device, 0, &error);
        if (error != 0) Native.clReleaseContext(Context);
        ClError.Check(error, $"creating a queue on {info.Name}");
        Programs = new ProgramCache(Context, info);
    }

    public OpenClDeviceInfo Info { get; }
    public Tuning Tuning { get; }
    internal nint Context { get; private set; }
    internal nint Queue { get; private set; }
    internal ProgramCache Programs { get; }

    public string Name => $"OpenCL {Info.Name} ({Info.Platform}, {Info.ComputeUnits} compute units, {Info.GlobalMemory / (1 << 20)} MiB)";
    public int LiveBuffers => memory.Buffers;
    public long LiveBytes => memory.Live;
    public long PeakBytes => memory.Peak;
    public void ResetPeak() => memory.ResetPeak();

    public IDeviceBuffer Allocate(long floats, string name)
    {
        if (floats * sizeof(float) > Info.MaxAllocation)
            throw new DeviceException($"OpenCL: {name} needs {DeviceMemory.Mib(floats * sizeof(float))} in one buffer; {Info.Name} allows at most {DeviceMemory.Mib(Info.MaxAllocation)} per buffer");
        var b = new OpenClBuffer(this, floats, name);
        memory.Allocated(floats);
        return b;
    }

    internal void Released(long floats) => memory.Released(floats);

    public IStepRunner Load(Plan plan, ParameterSet parameters) => new OpenClStepRunner(this, plan, parameters);

    /// <summary>Waits for every queued command.</summary>
    internal void Finish(string what) => ClError.Check(Native.clFinish(Queue), what);

    public void Dispose()
    {
        if (Queue != 0) Native.clReleaseCommandQueue(Queue);
        if (Context != 0) Native.clReleaseContext(Context);
        Queue = Context = 0;
    }
}
