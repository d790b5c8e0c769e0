using System.Text;

namespace Dsl.Runtime.Distributed;

/// <summary>MPI_COMM_WORLD of the job mpirun started. It asks for MPI_THREAD_SERIALIZED: the gradient allreduce may run on
/// a thread of its own (<see cref="CommThread"/>), never at the same time as another MPI call. Errors return codes
/// (MPI_ERRORS_RETURN), turned into <see cref="DistributedException"/>.</summary>
sealed unsafe class MpiCommunicator : Communicator
{
    readonly Mpi mpi;
    bool finished;

    public MpiCommunicator(Mpi mpi)
    {
        this.mpi = mpi;
        int provided, rank, size;
        mpi.Check(mpi.Init_thread(null, null, Mpi.ThreadSerialized, &provided), "to start (MPI_Init_thread)");
        mpi.Check(mpi.Comm_set_errhandler(mpi.CommWorld, mpi.ErrorsReturn), "to set its error handler");
        mpi.Check(mpi.Comm_rank(mpi.CommWorld, &rank), "to say this process's rank");
        mpi.Check(mpi.Comm_size(mpi.CommWorld, &size), "to say the number of processes");
        var name = stackalloc byte[Mpi.MaxProcessorName];
        int length = 0;
        mpi.Check(mpi.Get_processor_name(name, &length), "to name this machine");
        Rank = rank;
        Size = size;
        Host = Encoding.UTF8.GetString(name, length);
        ThreadLimit = provided >= Mpi.ThreadSerialized ? null
            : $"Open MPI provides thread level {LevelName(provided)}, and a thread of its own for the allreduce needs MPI_THREAD_SERIALIZED";
    }

    public override string? ThreadLimit { get; }

    static string LevelName(int level) => level switch
    {
        Mpi.ThreadSingle => "MPI_THREAD_SINGLE",
        Mpi.ThreadFunneled => "MPI_THREAD_FUNNELED",
        _ => level.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    public override int Rank { get; }
    public override int Size { get; }
    public override string Host { get; }

    public override void Sum(Span<float> values)
    {
        fixed (float* p = values) SumInPlace(p, values.Length, mpi.Float);
    }

    public override void Sum(Span<double> values)
    {
        fixed (double* p = values) SumInPlace(p, values.Length, mpi.Double);
    }

    void SumInPlace(void* p, int count, nint type)
    {
        if (count > 0) mpi.Check(mpi.Allreduce(Mpi.InPlace, p, count, type, mpi.OpSum, mpi.CommWorld), $"to sum {count} values over {Size} processes (MPI_Allreduce)");
    }

    public override ulong[] Gather(ulong value)
    {
        var all = new ulong[Size];
        fixed (ulong* p = all)
            mpi.Check(mpi.Allgather(&value, sizeof(ulong), mpi.Byte, p, sizeof(ulong), mpi.Byte, mpi.CommWorld), "to gather a value from every process (MPI_Allgather)");
        return all;
    }

    public override void Broadcast(Span<byte> values)
    {
        fixed (byte* p = values)
            mpi.Check(mpi.Bcast(p, values.Length, mpi.Byte, 0, mpi.CommWorld), $"to send {values.Length} bytes from process 0 to every process (MPI_Bcast)");
    }

    public override void Barrier() => mpi.Check(mpi.Barrier(mpi.CommWorld), "to wait for every process (MPI_Barrier)");

    public override void Finish()
    {
        if (finished) return;
        finished = true;
        mpi.Check(mpi.Finalize(), "to finish (MPI_Finalize)");
    }
}
