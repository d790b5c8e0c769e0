// Times each convolution of cifar-bn (conv, batch norm scale and shift, relu, and a following `maxpool 2` where the
// network has one) as the inference runner calls it: prepared weights, the fused epilogue. For a shared machine it
// reports each layer's fastest call and the thread's CPU time per call (its median): a call preempted by other work
// keeps neither. Use with --threads 1 for CPU time (two threads spin-wait for each other).
// With --cold, 64 MiB are written before each call (untimed) and the input and workspace read again, so the layer's
// weights come from memory, not from a cache they stayed in since the call before, while its input is as warm as the
// previous layer leaves it: a batch-1 network's weights where other processes share the L3.
// --im2col keeps every layer on im2col + GEMM (training's path), whose weights are a quarter of F(4x4)'s.
// --filter-gradient times each layer's weight gradient (`Conv.BackwardFilter`, training's kernel) instead of its forward pass.
// --lenet times lenet's two 5x5 convolutions (each with relu and `maxpool 2`) instead of cifar-bn's six; --alexnet
// AlexNet's first (11x11, stride 4, 3 -> 96 channels on 227x227): im2col + GEMM, with --filter-gradient too.
// Two options give a call what it meets inside a network rather than after a call of its own (2 threads or more):
// --other-core-input has another thread write the input before each call, as the layer before on the other core does;
// --evict KB has each thread read KB of other memory before each call, as the other layers' weights pass through its L2.
// --only NAME times that layer alone (conv3, say): for a profiler (perf record, with DOTNET_PerfMapEnabled=1 and
// DOTNET_EnableWriteXorExecute=0 so that it can name the JIT's code).
//   ConvBench --batch N --threads N --reps N [--lenet | --alexnet] [--cold] [--im2col] [--filter-gradient] [--other-core-input] [--evict KB] [--only NAME]
using System.Diagnostics;
using System.Runtime.InteropServices;
using Dsl.Runtime.Cpu;

int Arg(string name, int fallback) => Array.IndexOf(args, name) is var i and >= 0 ? int.Parse(args[i + 1]) : fallback;
int batch = Arg("--batch", 64), reps = Arg("--reps", 20);
CpuThreads.Count = Arg("--threads", 2);
var flush = args.Contains("--cold") ? new byte[64 << 20] : null;
bool winograd = !args.Contains("--im2col"), filterGradient = args.Contains("--filter-gradient");
bool lenet = args.Contains("--lenet"), alexnet = args.Contains("--alexnet"), otherCoreInput = args.Contains("--other-core-input");
int evictFloats = Arg("--evict", 0) * 256;
string? only = Array.IndexOf(args, "--only") is var at and >= 0 ? args[at + 1] : null;
// Name, input channels, input size, output channels, a following `maxpool 2`, kernel size, stride (padding keeps the
// size at stride 1, none otherwise).
var layers = alexnet
    ? new (string Name, int C, int Size, int K, bool Pool, int R, int Stride)[] { ("conv1", 3, 227, 96, false, 11, 4) }
    : lenet
    ? new (string Name, int C, int Size, int K, bool Pool, int R, int Stride)[] { ("conv1", 1, 28, 32, true, 5, 1), ("conv2", 32, 14, 64, true, 5, 1) }
    : new (string Name, int C, int Size, int K, bool Pool, int R, int Stride)[]
    {
        ("conv1", 3, 32, 32, false, 3, 1), ("conv2", 32, 32, 32, true, 3, 1), ("conv3", 32, 16, 64, false, 3, 1),
        ("conv4", 64, 16, 64, true, 3, 1), ("conv5", 64, 8, 128, false, 3, 1), ("conv6", 128, 8, 128, true, 3, 1),
    };
var other = new float[Math.Max(1, (long)evictFloats * CpuThreads.Count)];
var rng = new Random(1);
float[] Rand(long n) { var a = new float[n]; for (long i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 2 - 1); return a; }
double total = 0;
Console.WriteLine($"{(alexnet ? "AlexNet" : lenet ? "lenet" : "cifar-bn")} convolutions{(filterGradient ? "' filter gradients" : "")}, batch {batch}, {CpuThreads.Count} threads, {reps} calls each{(flush != null ? ", caches flushed before each" : "")}{(otherCoreInput ? ", input written by another thread before each" : "")}{(evictFloats > 0 ? $", {evictFloats / 256} KB read by each thread before each" : "")} (ms: fastest call, median and least CPU time per call)");
foreach (var (name, c, size, k, pool, r, stride) in layers.Where(l => only == null || l.Name == only))
{
    int pad = stride == 1 ? r / 2 : 0, outSize = (size + 2 * pad - r) / stride + 1;
    var g = new ConvGeometry(batch, c, size, size, k, r, r, stride, stride, pad, pad, 1, outSize, outSize);
    var x = Rand((long)batch * c * size * size);
    var w = Rand((long)k * c * r * r);
    var bias = Rand(k);
    var scale = Rand(k);
    var y = filterGradient ? Rand((long)batch * k * outSize * outSize) : new float[(long)batch * k * outSize * outSize];
    var pooled = new float[y.Length / 4];
    var ws = new float[Conv.WorkspaceFloats(g)];
    var prepared = new float[Conv.PreparedFloats(g)];
    var wall = new double[reps];
    var cpu = new double[reps];
    unsafe
    {
        fixed (float* po = other, px = x, pw = w, pb = bias, ps = scale, py = y, pp = pooled, pws = ws, pr = prepared)
        {
            Conv.Prepare(g, pw, pr, pws, ws.Length);
            for (int i = -3; i < reps; i++)
            {
                if (flush != null)
                {
                    Array.Fill(flush, (byte)i);
                    _ = x.Sum() + ws.Sum(); // back into the cache, as the layer before leaves them
                }
                if (otherCoreInput || evictFloats > 0)
                {
                    var before = new Before { X = px, Floats = x.Length, Other = po, OtherFloats = evictFloats, WriteInput = otherCoreInput };
                    CpuThreads.For(CpuThreads.Count, 1, ref before);
                }
                double cpu0 = ThreadSeconds();
                long t0 = Stopwatch.GetTimestamp();
                if (filterGradient) Conv.BackwardFilter(g, px, py, pw, null, pws, ws.Length, winograd); // dy: y's random values
                else Conv.Forward(g, px, pw, pb, py, Activation.Relu, 0f, pws, ws.Length, ps, pr, pool && winograd ? pp : null, winograd);
                double seconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
                if (i >= 0) (wall[i], cpu[i]) = (seconds, ThreadSeconds() - cpu0);
            }
        }
    }
    Array.Sort(wall);
    Array.Sort(cpu);
    total += wall[0];
    Console.WriteLine($"{name,-6} {c,4} -> {k,4} on {size}x{size}{(pool && !filterGradient ? " + maxpool" : "         ")}  fastest {1000 * wall[0],8:F3}  cpu {1000 * cpu[reps / 2],8:F3} (least {1000 * cpu[0]:F3})");
}
Console.WriteLine($"sum of the fastest calls: {1000 * total:F3} ms");

// This thread's CPU time (CLOCK_THREAD_CPUTIME_ID): time it was preempted does not count.
static double ThreadSeconds()
{
    var ts = new Timespec();
    clock_gettime(3, ref ts);
    return ts.Sec + ts.Nsec * 1e-9;
}

[DllImport("libc")] static extern int clock_gettime(int clock, ref Timespec ts);

struct Timespec { public long Sec, Nsec; }

/// <summary>What the network does between two calls of a layer: each thread reads its share of other memory, and a
/// thread other than the caller (part 1) writes the input.</summary>
unsafe struct Before : IParallelJob
{
    public float* X, Other;
    public int Floats, OtherFloats;
    public bool WriteInput;

    public void Run(int begin, int end)
    {
        for (int part = begin; part < end; part++)
        {
            float sum = 0;
            for (long i = (long)part * OtherFloats; i < (long)(part + 1) * OtherFloats; i += 16) sum += Other[i]; // a line at a time
            if (WriteInput && part == 1)
                for (int i = 0; i < Floats; i++) X[i] += sum * 0f;
        }
    }
}
