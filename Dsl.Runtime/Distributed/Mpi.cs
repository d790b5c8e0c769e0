using System.Runtime.InteropServices;
using System.Text;

namespace Dsl.Runtime.Distributed;

/// <summary>The MPI entry points dsl uses, resolved from Open MPI's libmpi.so.40 when a run is started by mpirun; never
/// loaded otherwise. Open MPI's handles are pointers to its predefined objects (MPI_COMM_WORLD is &amp;ompi_mpi_comm_world,
/// MPI_FLOAT &amp;ompi_mpi_float, MPI_SUM &amp;ompi_mpi_op_sum), so they are the addresses of exported symbols; MPI_IN_PLACE
/// is (void*)1 (mpi.h of Open MPI 4.1).</summary>
sealed unsafe class Mpi
{
    public const string Library = "libmpi.so.40";
    public const int ThreadSingle = 0, ThreadFunneled = 1, ThreadSerialized = 2, Success = 0, MaxErrorString = 256, MaxProcessorName = 256;
    public static readonly nint InPlace = 1;

    public readonly delegate* unmanaged<int*, byte***, int, int*, int> Init_thread;
    public readonly delegate* unmanaged<int> Finalize;
    public readonly delegate* unmanaged<nint, int*, int> Comm_rank;
    public readonly delegate* unmanaged<nint, int*, int> Comm_size;
    public readonly delegate* unmanaged<nint, nint, int> Comm_set_errhandler;
    public readonly delegate* unmanaged<nint, void*, int, nint, nint, nint, int> Allreduce;
    public readonly delegate* unmanaged<void*, int, nint, void*, int, nint, nint, int> Allgather;
    public readonly delegate* unmanaged<nint, int> Barrier;
    public readonly delegate* unmanaged<void*, int, nint, int, nint, int> Bcast;
    public readonly delegate* unmanaged<byte*, int*, int> Get_processor_name;
    public readonly delegate* unmanaged<int, byte*, int*, int> Error_string;

    /// <summary>Predefined handles.</summary>
    public readonly nint CommWorld, Float, Double, Byte, OpSum, ErrorsReturn;

    Mpi(nint lib)
    {
        Init_thread = (delegate* unmanaged<int*, byte***, int, int*, int>)Export(lib, "MPI_Init_thread");
        Finalize = (delegate* unmanaged<int>)Export(lib, "MPI_Finalize");
        Comm_rank = (delegate* unmanaged<nint, int*, int>)Export(lib, "MPI_Comm_rank");
        Comm_size = (delegate* unmanaged<nint, int*, int>)Export(lib, "MPI_Comm_size");
        Comm_set_errhandler = (delegate* unmanaged<nint, nint, int>)Export(lib, "MPI_Comm_set_errhandler");
        Allreduce = (delegate* unmanaged<nint, void*, int, nint, nint, nint, int>)Export(lib, "MPI_Allreduce");
        Allgather = (delegate* unmanaged<void*, int, nint, void*, int, nint, nint, int>)Export(lib, "MPI_Allgather");
        Barrier = (delegate* unmanaged<nint, int>)Export(lib, "MPI_Barrier");
        Bcast = (delegate* unmanaged<void*, int, nint, int, nint, int>)Export(lib, "MPI_Bcast");
        Get_processor_name = (delegate* unmanaged<byte*, int*, int>)Export(lib, "MPI_Get_processor_name");
        Error_string = (delegate* unmanaged<int, byte*, int*, int>)Export(lib, "MPI_Error_string");
        CommWorld = Export(lib, "ompi_mpi_comm_world");
        Float = Export(lib, "ompi_mpi_float");
        Double = Export(lib, "ompi_mpi_double");
        Byte = Export(lib, "ompi_mpi_byte");
        OpSum = Export(lib, "ompi_mpi_op_sum");
        ErrorsReturn = Export(lib, "ompi_mpi_errors_return");
    }

    static nint Export(nint lib, string name) =>
        NativeLibrary.TryGetExport(lib, name, out var p) ? p
            : throw new DistributedException($"{Library} has no {name}: it is not Open MPI 4 (dsl speaks Open MPI's ABI); install Debian's libopenmpi3");

    /// <summary>Loads libmpi.so.40 with its symbols global (Open MPI's plugins resolve theirs against it, as mpi4py does);
    /// null with the loader's reason when it is not installed.</summary>
    public static Mpi? Load(string library, out string? problem)
    {
        var handle = dlopen(library, RtldNow | RtldGlobal);
        if (handle == 0)
        {
            problem = Marshal.PtrToStringUTF8(dlerror()) ?? "not found";
            return null;
        }
        problem = null;
        return new Mpi(handle);
    }

    /// <summary>Throws with MPI's own words for a failed call.</summary>
    public void Check(int code, string what)
    {
        if (code == Success) return;
        var text = stackalloc byte[MaxErrorString];
        int length = 0;
        string reason = Error_string(code, text, &length) == Success ? Encoding.UTF8.GetString(text, length) : $"error {code}";
        throw new DistributedException($"MPI failed {what}: {reason}");
    }

    const int RtldNow = 2, RtldGlobal = 0x100;
    [DllImport("libc", EntryPoint = "dlopen")] static extern nint dlopen(string file, int mode);
    [DllImport("libc", EntryPoint = "dlerror")] static extern nint dlerror();
}

/// <summary>Running over MPI failed: mpirun without Open MPI's library, a collective that failed, processes whose weights
/// drifted apart; the message says which process and what to do.</summary>
public sealed class DistributedException(string message, Exception? inner = null) : Exception(message, inner);
