// What a loop of the CPU device's thread pool costs on this machine, now, on 1 and 2 threads (medians of 5,000 loops):
//  - two items of 5 us of arithmetic: 10 us on one thread, 5 plus the meeting on two (10 again where the worker did not
//    join in time and the caller ran its share);
//  - each thread writing its half of a 256 KiB buffer, then reading the other's half: what the Winograd one-chunk
//    steps do with the transformed inputs and products, against the same on one thread (no line changes core).
// On the shared 2-core VM the exchange took 5.8 us on two threads in some minutes and 38 in others (one thread: 5.7).
using System.Diagnostics;
using Dsl.Runtime.Cpu;

const int Loops = 5000;
var buffer = GC.AllocateUninitializedArray<float>(1 << 16, pinned: true);
unsafe
{
    fixed (float* p = buffer)
    {
        foreach (int threads in new[] { 1, 2 })
        {
            CpuThreads.Count = threads;
            var busy = new Busy { Ticks = 5 * Stopwatch.Frequency / 1_000_000 };
            var write = new Halves { P = p, Floats = buffer.Length, Write = true };
            var read = new Halves { P = p, Floats = buffer.Length, Other = true };
            double meeting = Median(() => CpuThreads.For(2, 1, ref busy));
            double exchange = Median(() => { CpuThreads.For(2, 1, ref write); CpuThreads.For(2, 1, ref read); });
            Console.WriteLine($"{threads} thread(s): two 5-us items {meeting:F2} us; 256 KiB written and read by the other thread {exchange:F2} us");
        }
    }
}

static double Median(Action loop)
{
    var times = new double[Loops];
    for (int i = 0; i < Loops; i++)
    {
        long t = Stopwatch.GetTimestamp();
        loop();
        times[i] = Stopwatch.GetElapsedTime(t).TotalMicroseconds;
    }
    Array.Sort(times);
    return times[Loops / 2];
}

struct Busy : IParallelJob
{
    public long Ticks;

    public void Run(int begin, int end)
    {
        for (int i = begin; i < end; i++)
        {
            long t = Stopwatch.GetTimestamp();
            while (Stopwatch.GetTimestamp() - t < Ticks) { }
        }
    }
}

/// <summary>Item i writes half i of the buffer (one float per cache line), or reads the other half.</summary>
unsafe struct Halves : IParallelJob
{
    public float* P;
    public int Floats;
    public bool Write, Other;
    public float Sink;

    public void Run(int begin, int end)
    {
        int half = Floats / 2;
        for (int i = begin; i < end; i++)
        {
            float* q = P + (Other ? 1 - i : i) * half;
            float sum = 0;
            for (int j = 0; j < half; j += 16)
                if (Write) q[j] = j;
                else sum += q[j];
            Sink = sum;
        }
    }
}
