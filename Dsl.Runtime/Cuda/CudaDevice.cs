using Dsl.Compiler.Render;
using Dsl.Core;

namespace Dsl.Runtime.Cuda;

/// <summary>A CUDA device: its primary context and one stream. Plans run as kernels the compiler renders in the CUDA C
/// dialect, compiled by NVRTC to PTX for the device's compute capability and loaded by the driver.</summary>
public sealed unsafe class CudaDevice : IDevice
{
    readonly DeviceMemory memory = new();
    nint context, stream;

    /// <summary>Opens the device <paramref name="info"/> describes; <paramref name="tuning"/> overrides the compiler's choice of sizes,
    /// <paramref name="precision"/> whether GEMMs may use TF32 tensor cores, <paramref name="tiles"/> which GEMM tiles it chooses.</summary>
    public CudaDevice(CudaDeviceInfo info, Tuning? tuning = null, Precision precision = Precision.Default, GemmTiles tiles = GemmTiles.Standard)
    {
        Info = info;
        Cu = Driver.Get(out _, out var problem) ?? throw new DeviceException($"CUDA: {problem}");
        var nvrtc = Nvrtc.Get(out var nvrtcProblem) ?? throw new DeviceException($"CUDA: {info.Name} is present, but there is {nvrtcProblem}");
        var t = info.Target;
        var target = precision == Precision.Fp32 ? new Target(t.Kind, t.MaxWorkGroupSize, t.LocalMemoryBytes, t.VectorWidth, t.SubGroupWidth, false,
            t.AsyncCopy, t.LocalMemoryOptInBytes) : t;
        Tuning = tuning ?? GemmTilesChoice.Tuning(target, tiles);
        if (TuningModule.problem(target, Tuning) is { } bad)
            throw new DeviceException($"CUDA: the kernel sizes do not suit {info.Name}: {bad.Value}");
        nint ctx;
        CuError.Check(Cu.cuDevicePrimaryCtxRetain(&ctx, info.Handle), $"opening {info.Name}");
        context = ctx;
        MakeCurrent();
        nint s;
        int status = Cu.cuStreamCreate(&s, 0);
        if (status != 0) Cu.cuDevicePrimaryCtxRelease(info.Handle);
        CuError.Check(status, $"creating a stream on {info.Name}");
        stream = s;
        Programs = new CudaProgramCache(this, nvrtc);
    }

    public CudaDeviceInfo Info { get; }
    public Tuning Tuning { get; }
    internal Driver Cu { get; }
    internal nint Stream => stream;
    internal CudaProgramCache Programs { get; }

    public string Name => $"CUDA {Info.Name} (compute {Info.ComputeCapability}, {Info.Multiprocessors} SMs, {DeviceMemory.Mib(Info.GlobalMemory)}, driver {Gpus.VersionText(Info.DriverVersion)}, {(Tuning.TensorCores ? "TF32 tensor cores" : "FP32")}, {Tuning.TileM}x{Tuning.TileN} GEMM tiles{(Tuning.Stages > 1 ? $" in {Tuning.Stages} cp.async stages" : "")}, NVRTC kernels)";
    public int LiveBuffers => memory.Buffers;
    public long LiveBytes => memory.Live;
    public long PeakBytes => memory.Peak;
    public void ResetPeak() => memory.ResetPeak();

    public IDeviceBuffer Allocate(long floats, string name) => Allocate(floats, name, null);

    /// <summary>Allocates; where the device is out of memory, <paramref name="outOfMemory"/> writes the message from the free bytes.</summary>
    internal CudaBuffer Allocate(long floats, string name, Func<long, string>? outOfMemory)
    {
        var b = new CudaBuffer(this, floats, name, outOfMemory);
        memory.Allocated(floats);
        return b;
    }

    internal void Released(long floats) => memory.Released(floats);

    /// <summary>The calling thread's current context is per thread; every entry point makes this device's current first.</summary>
    internal void MakeCurrent() => CuError.Check(Cu.cuCtxSetCurrent(context), $"making {Info.Name} current");

    internal long FreeBytes()
    {
        nuint free, total;
        CuError.Check(Cu.cuMemGetInfo(&free, &total), "reading free memory");
        return (long)free;
    }

    /// <summary>Waits for every command queued on the stream.</summary>
    internal void Synchronize(string what) => CuError.Check(Cu.cuStreamSynchronize(stream), what);

    public IStepRunner Load(Plan plan, ParameterSet parameters) => new CudaStepRunner(this, plan, parameters);

    public void Dispose()
    {
        if (context == 0) return;
        MakeCurrent();
        if (stream != 0) Cu.cuStreamDestroy(stream);
        Cu.cuDevicePrimaryCtxRelease(Info.Handle);
        stream = context = 0;
    }
}
