namespace Dsl.Runtime.Distributed;

/// <summary>The processes of one training job and the few collectives data-parallel training needs. A run started
/// without mpirun is a world of one, whose collectives change nothing.</summary>
public abstract class Communicator
{
    /// <summary>This process's number, from 0; process 0 writes the run folder.</summary>
    public abstract int Rank { get; }
    public abstract int Size { get; }
    /// <summary>The machine this process runs on, for messages.</summary>
    public abstract string Host { get; }

    /// <summary>Null where the collectives may be called from any thread, one thread at a time (MPI_THREAD_SERIALIZED);
    /// else why not, for the log.</summary>
    public virtual string? ThreadLimit => null;

    /// <summary>Replaces <paramref name="values"/> with their element-wise sum over every process.</summary>
    public abstract void Sum(Span<float> values);
    public abstract void Sum(Span<double> values);

    /// <summary>Every process's <paramref name="value"/>, by rank.</summary>
    public abstract ulong[] Gather(ulong value);

    /// <summary>Replaces <paramref name="values"/> with process 0's.</summary>
    public abstract void Broadcast(Span<byte> values);

    /// <summary>Returns once every process has called it.</summary>
    public abstract void Barrier();

    /// <summary>Ends this process's part in the job after a run that succeeded; a failed process exits without it, which
    /// makes mpirun stop the others.</summary>
    public abstract void Finish();

    /// <summary>"process 1 of 2".</summary>
    public string Describe(int rank) => $"process {rank} of {Size}";

    /// <summary>The job this process belongs to: Open MPI's world when mpirun started it (its environment says so), else
    /// a world of one. Under mpirun without <paramref name="library"/> the message says what to install.</summary>
    public static Communicator Join(Func<string, string?> env, string library = Mpi.Library)
    {
        var size = env("OMPI_COMM_WORLD_SIZE");
        if (size is null) return new SingleProcess();
        var mpi = Mpi.Load(library, out var problem)
            ?? throw new DistributedException($"started by mpirun (OMPI_COMM_WORLD_SIZE={size}) but Open MPI's library {library} cannot be loaded ({problem}); " +
                "install it with `sudo apt-get install libopenmpi3 openmpi-bin`, or run dsl without mpirun");
        return new MpiCommunicator(mpi);
    }
}

/// <summary>A run in one process: every collective is the identity.</summary>
public sealed class SingleProcess : Communicator
{
    public override int Rank => 0;
    public override int Size => 1;
    public override string Host => Environment.MachineName;
    public override void Sum(Span<float> values) { }
    public override void Sum(Span<double> values) { }
    public override ulong[] Gather(ulong value) => [value];
    public override void Broadcast(Span<byte> values) { }
    public override void Barrier() { }
    public override void Finish() { }
}
