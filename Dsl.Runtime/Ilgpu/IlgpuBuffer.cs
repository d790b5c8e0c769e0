using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;

namespace Dsl.Runtime.Ilgpu;

/// <summary>Memory on an ILGPU accelerator, at least one float (as every backend allocates).</summary>
public sealed class IlgpuBuffer : IDeviceBuffer
{
    readonly IlgpuDevice owner;
    MemoryBuffer1D<float, Stride1D.Dense>? memory;

    internal IlgpuBuffer(IlgpuDevice owner, Accelerator accelerator, long floats, string name)
    {
        this.owner = owner;
        Name = name;
        Floats = floats;
        try { memory = accelerator.Allocate1D<float>(Math.Max(1, floats)); }
        catch (Exception e) when (e is OutOfMemoryException or AcceleratorException)
        {
            throw new DeviceException($"{accelerator.Name}: out of memory allocating {name} ({DeviceMemory.Mib(DeviceMemory.BytesOf(floats))})", e);
        }
        memory.MemSetToZero();
    }

    public string Name { get; }
    public long Floats { get; }

    internal ArrayView<float> View => (memory ?? throw new ObjectDisposedException(Name)).View.SubView(0, Floats);

    public void Upload(ReadOnlySpan<float> source, long offset = 0)
    {
        if (source.Length == 0) return;
        View.SubView(offset, source.Length).CopyFromCPU(ref MemoryMarshal.GetReference(source), source.Length);
    }

    public void Download(Span<float> destination, long offset = 0)
    {
        if (destination.Length == 0) return;
        View.SubView(offset, destination.Length).CopyToCPU(ref MemoryMarshal.GetReference(destination), destination.Length);
    }

    public void Dispose()
    {
        if (memory is null) return;
        memory.Dispose();
        memory = null;
        owner.Released(Floats);
    }
}
