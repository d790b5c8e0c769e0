// The ILGPU evaluation behind docs/design.md, reproduced: writes the PTX ILGPU 1.5.3 makes of a TF32 mma.sync loop and of
// a tiled GEMM (at O1 and O2) into OUT for ptxas to judge (bench/ilgpu-probe.sh does that), lists the OpenCL devices ILGPU
// enumerates beside those the ICD loader offers, and times the tiled GEMM on ILGPU's CPU accelerator against a float64
// reference. Needs no GPU.   usage: dotnet run -c Release --project bench/ilgpu-probe -- OUT
using System.Diagnostics;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;

var outDir = args.Length > 0 ? args[0] : "ilgpu-probe-out";
Directory.CreateDirectory(outDir);
Console.WriteLine($"ILGPU {typeof(Context).Assembly.GetName().Version}, .NET {Environment.Version}, {Environment.ProcessorCount} cores");

// 1 and 3: PTX for sm_90 (PTX ISA 7.8, what ptxas 11.8 reads), without a device.
foreach (var (label, level) in new[] { ("O1", OptimizationLevel.O1), ("O2", OptimizationLevel.O2) })
{
    using var context = Context.Create(b => b.Optimize(level));
    var backend = new PTXBackend(context, new CudaCapabilityContext(CudaArchitecture.SM_90), CudaArchitecture.SM_90, CudaInstructionSet.ISA_78, null);
    foreach (var (name, threads) in new[] { (nameof(Kernels.MmaTf32), 32), (nameof(Kernels.TiledGemm), 256) })
    {
        var entry = EntryPointDescription.FromExplicitlyGroupedKernel(typeof(Kernels).GetMethod(name)!);
        var spec = new KernelSpecialization(threads, null);
        var ptx = ((PTXCompiledKernel)backend.Compile(entry, spec)).PTXAssembly;
        var file = Path.Combine(outDir, $"{name}-{label}.ptx");
        File.WriteAllText(file, ptx);
        Console.WriteLine($"ptx: {file}: {Count(ptx, "ld.local")} ld.local, {Count(ptx, "st.local")} st.local, {Count(ptx, "mma.sync")} mma.sync, " +
            $"{Count(ptx, "bar.sync")} bar.sync, {Count(ptx, "ld.shared")} ld.shared");
    }
}

// 2: OpenCL devices. ILGPU's CLDevice.GetDevices applies ILGPU's own test of a usable device after the predicate.
try
{
    using var context = Context.Create(b => b.OpenCL(_ => true));
    var offered = CLDevice.GetDevices(_ => true).Length;
    var names = new List<string>();
    foreach (var d in context.GetCLDevices()) names.Add($"{d.Name} ({d.DeviceVersion}, C {d.CVersion})");
    Console.WriteLine($"opencl: CLDevice.GetDevices(all) {offered}; a context enumerates {names.Count} device(s){(names.Count == 0 ? "" : ": " + string.Join("; ", names))}");
}
catch (Exception e) { Console.WriteLine($"opencl: ILGPU failed: {e.GetType().Name}: {e.Message}"); }

// 4: the tiled GEMM on ILGPU's CPU accelerator.
{
    const int n = 128;
    var rng = new Random(1);
    var a = Enumerable.Range(0, n * n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
    var b = Enumerable.Range(0, n * n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
    // 256 threads per group (8 warps of 32), one multiprocessor per core.
    using var context = Context.Create(builder => builder.CPU(new CPUDevice(32, 8, Environment.ProcessorCount)));
    using var cpu = context.CreateCPUAccelerator(0);
    var kernel = cpu.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(Kernels.TiledGemm);
    using var da = cpu.Allocate1D(a);
    using var db = cpu.Allocate1D(b);
    using var dc = cpu.Allocate1D<float>(n * n);
    var config = new KernelConfig(new Index2D(n / Kernels.Tile, n / Kernels.Tile), new Index2D(Kernels.Tile, Kernels.Tile));
    kernel(config, da.View, db.View, dc.View, n);
    cpu.Synchronize();
    var clock = Stopwatch.StartNew();
    kernel(config, da.View, db.View, dc.View, n);
    cpu.Synchronize();
    var seconds = clock.Elapsed.TotalSeconds;
    var c = dc.GetAsArray1D();
    double worst = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
        {
            double want = 0, abs = 0;
            for (int k = 0; k < n; k++) { want += (double)a[i * n + k] * b[k * n + j]; abs += Math.Abs((double)a[i * n + k] * b[k * n + j]); }
            worst = Math.Max(worst, Math.Abs(c[i * n + j] - want) / abs);
        }
    Console.WriteLine($"cpu: {n}x{n}x{n} tiled GEMM on {cpu.Name} ({cpu.NumMultiprocessors} threads): {seconds:F2} s, " +
        $"{2.0 * n * n * n / seconds / 1e6:F1} MFLOP/s; worst error {worst:E1} of the sum of |products|");
}

static int Count(string text, string what)
{
    int count = 0;
    for (int i = text.IndexOf(what, StringComparison.Ordinal); i >= 0; i = text.IndexOf(what, i + what.Length, StringComparison.Ordinal)) count++;
    return count;
}
