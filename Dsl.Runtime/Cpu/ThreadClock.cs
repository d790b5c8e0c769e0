using System.Runtime.InteropServices;

namespace Dsl.Runtime.Cpu;

/// <summary>The calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID): time the thread was preempted does not count, so
/// one-thread timings hold on a loaded machine (cache contention from the neighbours still counts).</summary>
public static partial class ThreadClock
{
    /// <summary>Seconds of CPU this thread has run.</summary>
    public static double Seconds()
    {
        var ts = new Timespec();
        clock_gettime(ThreadCpuTime, ref ts);
        return ts.Sec + ts.Nsec * 1e-9;
    }

    const int ThreadCpuTime = 3;

    [LibraryImport("libc")]
    private static partial int clock_gettime(int clock, ref Timespec ts);

    struct Timespec
    {
        public long Sec, Nsec;
    }
}
