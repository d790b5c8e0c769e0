using Dsl.Runtime.Cuda;

namespace Dsl.Runtime.Distributed;

/// <summary>Averages the gradients on the GPUs themselves with NCCL, bucket by bucket as <see cref="GradientBuckets"/>
/// lays them out: one ncclAllReduce (ncclAvg) per piece, a bucket's pieces fused by ncclGroupStart/End, queued on the
/// device's stream so that the optimiser's kernels, queued after them, see the averages. Nothing crosses host memory.
/// The communicator is made as nccl.h says: ncclGetUniqueId on process 0, its 128 bytes broadcast over MPI, then
/// ncclCommInitRank on every process.</summary>
sealed unsafe class NcclGradients : IGradientAverager
{
    readonly Nccl nccl;
    readonly CudaDevice device;
    readonly (ulong Pointer, int Count)[][] pieces;
    nint comm;

    NcclGradients(Nccl nccl, Communicator processes, CudaDevice device, ParameterSet parameters, GradientBuckets layout)
    {
        this.nccl = nccl;
        this.device = device;
        pieces = layout.Layout.Select(b => b.Select(p => (((CudaBuffer)parameters[p.Name]).Pointer + (ulong)p.Offset * sizeof(float), p.Count)).ToArray()).ToArray();
        var id = new NcclUniqueId();
        if (processes.Rank == 0) nccl.Check(nccl.GetUniqueId(&id), "to make the communicator's identity (ncclGetUniqueId)");
        processes.Broadcast(new Span<byte>(id.Internal, Nccl.UniqueIdBytes));
        device.MakeCurrent();
        nint c;
        nccl.Check(nccl.CommInitRank(&c, processes.Size, id, processes.Rank), $"to join {processes.Describe(processes.Rank)} to the communicator (ncclCommInitRank)");
        comm = c;
        Route = $"on the GPUs by NCCL {Nccl.VersionText(nccl.Version)} ({nccl.Path})";
    }

    public string Route { get; }

    /// <summary>NCCL's averaging where every process has NCCL 2.10 or later; otherwise null, and why (every process must
    /// take the same route, or their collectives would never meet).</summary>
    public static NcclGradients? Open(Communicator processes, CudaDevice device, ParameterSet parameters, GradientBuckets layout, out string? problem)
    {
        var nccl = Nccl.Load(out problem);
        var have = new double[] { nccl is null ? 0 : 1 };
        processes.Sum(have);
        if (nccl is not null && have[0] < processes.Size)
            problem = $"{processes.Size - (int)have[0]} of the {processes.Size} processes could not load {Nccl.Library} (each says why on its own machine's `dsl devices`)";
        return problem is null ? new NcclGradients(nccl!, processes, device, parameters, layout) : null;
    }

    public void Average()
    {
        device.MakeCurrent();
        foreach (var bucket in pieces)
        {
            nccl.Check(nccl.GroupStart(), "to start a bucket (ncclGroupStart)");
            foreach (var (pointer, count) in bucket)
                nccl.Check(nccl.AllReduce((void*)pointer, (void*)pointer, (nuint)count, Nccl.Float32, Nccl.Avg, comm, device.Stream), "to queue an allreduce (ncclAllReduce)");
            nccl.Check(nccl.GroupEnd(), "to run a bucket's allreduce (ncclGroupEnd)");
        }
    }

    public void Dispose()
    {
        if (comm == 0) return;
        device.MakeCurrent();
        nccl.CommDestroy(comm);
        comm = 0;
    }
}
