using System.Diagnostics;
using Dsl.Compiler.Render;
using Dsl.Core;
using Microsoft.FSharp.Core;
using Xunit;
using Xunit.Abstractions;
using static Dsl.Compiler.Render.CStyle;

namespace Dsl.Runtime.Tests.Backends;

/// <summary>The tensor-core GEMMs of the CUDA dialect, and its pipelined GEMMs, run on the CPU by cuda_emulator.h (threads
/// for a block; mma.sync and ldmatrix emulated from the PTX ISA's layouts; cp.async copies landing only at the wait_group
/// that covers them) and compared with float64 products of the inputs (TF32-rounded on tensor cores). Until a GPU runs them,
/// this is what checks the warp tiling, the fragment indices, the stage ring and the epilogue positions.</summary>
public class CudaEmulatorTests(ITestOutputHelper output)
{
    /// <summary>An H100's limits (227 KiB of opt-in shared memory per block: 3 stages) and an A100's (163 KiB: 2 stages).</summary>
    static Target Gpu(bool tensorCores, int optInKib = 227) => new(TargetKind.GpuTarget, 1024, 49152, 4, 32, tensorCores, true, optInKib * 1024L);

    /// <summary>64 x 64 tiles 16 deep (each warp 2 x 2 products), 128 x 64 (4 x 2), the large tiles the compiler offers
    /// (`--tiles large`: 128 x 128, 32 deep, 4 x 4 products per warp), 8 warps each; the pipelined tiles (`--tiles
    /// pipelined`) with 3 stages and with 2, on tensor cores and in FP32.</summary>
    public static TheoryData<string> Tilings => new() { "64x64", "128x64", "large", "pipelined", "pipelined-2", "pipelined-fp32" };

    [Theory]
    [MemberData(nameof(Tilings))]
    public void GemmsMatchFloat64ProductsOfTheirInputs(string tiling)
    {
        var compiler = new[] { "/usr/bin/g++", "/usr/bin/clang++" }.FirstOrDefault(File.Exists);
        Assert.True(compiler is not null, "no host C++ compiler (g++ or clang++) to run the emulated kernels with");
        var tuning = tiling switch
        {
            "64x64" => new Tuning(256, 64, 64, 16, 4, 4, 4, tensorCores: true, stages: 1),
            "128x64" => new Tuning(256, 128, 64, 16, 8, 4, 4, tensorCores: true, stages: 1),
            "large" => TuningModule.large(Gpu(true)).Value,
            "pipelined" => TuningModule.pipelinedTiles(Gpu(true)).Value,
            "pipelined-2" => TuningModule.pipelinedTiles(Gpu(true, 163)).Value,
            _ => TuningModule.pipelinedTiles(Gpu(false)).Value,
        };
        var gpu = Gpu(tuning.TensorCores);
        Assert.Null(TuningModule.problem(gpu, tuning));
        Assert.Equal(tiling == "pipelined" ? 3 : tiling == "pipelined-2" ? 2 : tiling == "pipelined-fp32" ? 3 : 1, tuning.Stages);

        var rng = new Random(7);
        var memory = new List<float>();
        var offsets = new Dictionary<int, long>();
        int Buffer(int id, int floats, bool random)
        {
            offsets[id] = memory.Count;
            for (int i = 0; i < floats; i++) memory.Add(random ? (float)(rng.NextDouble() * 2 - 1) : float.NaN);
            return id;
        }
        // Dense forward with bias and ReLU: M = 40 rows, N = 70, K = 237 (none a multiple of a tile; 8 slices of 32, so the
        // stages of the pipelined GEMM go round their ring more than twice).
        const int n = 40, inF = 237, outF = 70;
        int x = Buffer(0, n * inF, true), w = Buffer(1, outF * inF, true), bias = Buffer(2, outF, true), y = Buffer(3, n * outF, false);
        // Dense weight gradient: A and B both read across k.
        const int bn = 45, bin = 30, bout = 50;
        int bx = Buffer(4, bn * bin, true), bdy = Buffer(5, bn * bout, true), bdw = Buffer(6, bout * bin, false);
        // Grouped, strided, padded convolution: the implicit-GEMM loader.
        var g = new ConvGeom(2, 4, 9, 9, 6, 3, 3, 2, 2, 1, 1, 2, 5, 5);
        int cx = Buffer(7, 2 * 4 * 81, true), cw = Buffer(8, 6 * 2 * 9, true), cb = Buffer(9, 6, true), cy = Buffer(10, 2 * 6 * 25, false);

        var ctx = new Ctx(Dialect.cuda, tuning, FuncConvert.FromFunc<int, long>(id => offsets[id]));
        var kernels = new[]
        {
            GemmKernels.denseForward(ctx, "dense_forward", n, inF, outF, x, w, FSharpOption<int>.Some(bias), y, FSharpOption<Activation>.Some(Activation.Relu)),
            GemmKernels.denseBackwardWeights(ctx, "dense_backward_weights", bn, bin, bout, bx, bdy, bdw),
            ConvKernels.forward(ctx, "conv_forward", g, cx, cw, FSharpOption<int>.Some(cb), cy, FSharpOption<Activation>.None),
        };
        var result = Run(compiler!, kernels, memory.ToArray());

        var input = memory.Select(v => tuning.TensorCores ? Tf32(v) : v).ToArray();
        Check("dense forward", result, offsets[y], n * outF, i =>
        {
            int r = i / outF, o = i % outF;
            var (sum, abs) = Dot(inF, k => input[offsets[x] + r * inF + k] * input[offsets[w] + o * inF + k]);
            double b = memory[(int)offsets[bias] + o];
            return (Math.Max(sum + b, 0), abs + Math.Abs(b));
        });
        Check("dense weight gradient", result, offsets[bdw], bout * bin, i =>
        {
            int o = i / bin, c = i % bin;
            return Dot(bn, s => input[offsets[bdy] + s * bout + o] * input[offsets[bx] + s * bin + c]);
        });
        Check("grouped convolution", result, offsets[cy], 2 * 6 * 25, i =>
        {
            int img = i / 150, k = i / 25 % 6, oh = i % 25 / 5, ow = i % 5, group = k / 3;
            var (sum, abs) = (0.0, 0.0);
            for (int c = 0; c < 2; c++)
                for (int r = 0; r < 3; r++)
                    for (int s = 0; s < 3; s++)
                    {
                        int ih = oh * 2 - 1 + r, iw = ow * 2 - 1 + s;
                        if (ih < 0 || ih >= 9 || iw < 0 || iw >= 9) continue;
                        double p = input[offsets[cw] + ((k * 2 + c) * 3 + r) * 3 + s] * input[offsets[cx] + ((img * 4 + group * 2 + c) * 9 + ih) * 9 + iw];
                        sum += p;
                        abs += Math.Abs(p);
                    }
            return (sum + memory[(int)offsets[cb] + k], abs + Math.Abs(memory[(int)offsets[cb] + k]));
        });
    }

    /// <summary>cvt.rna.tf32.f32 again, from its definition: nearest of the floats with 10 mantissa bits, ties away from zero.</summary>
    static double Tf32(float v)
    {
        if (!float.IsFinite(v)) return v;
        var mantissaStep = Math.Pow(2, Math.Floor(Math.Log2(Math.Abs(v))) - 10);
        return Math.Sign(v) * Math.Floor(Math.Abs(v) / mantissaStep + 0.5) * mantissaStep;
    }

    static (double Sum, double Abs) Dot(int count, Func<int, double> product)
    {
        var (sum, abs) = (0.0, 0.0);
        for (int k = 0; k < count; k++) { var p = product(k); sum += p; abs += Math.Abs(p); }
        return (sum, abs);
    }

    void Check(string what, float[] result, long offset, int count, Func<int, (double Sum, double Abs)> reference)
    {
        double worst = 0;
        for (int i = 0; i < count; i++)
        {
            var (want, abs) = reference(i);
            var error = Math.Abs(result[offset + i] - want) / (abs + 1e-6);
            worst = Math.Max(worst, error);
            Assert.True(error < 1e-5, $"{what}: element {i} is {result[offset + i]}, the float64 product of its inputs is {want}");
        }
        output.WriteLine($"{what}: {count} outputs, worst error {worst:E1} of the sum of |products|");
    }

    /// <summary>Compiles the kernels with the emulator and a main that launches each over one memory, and returns the memory after.</summary>
    float[] Run(string compiler, Rendered[] kernels, float[] memory)
    {
        var dir = Directory.CreateTempSubdirectory("dsl-emulated-").FullName;
        var header = Path.Combine(Networks.RepoRoot, "tests", "Dsl.Runtime.Tests", "Backends", "cuda_emulator.h");
        var launches = kernels.SelectMany(k => k.Launches).Select(l =>
            $"    dsl_launch({{{l.Groups.Item1}u, {l.Groups.Item2}u, {l.Groups.Item3}u}}, {l.Local.Item1}u, {l.SharedBytes}u, [=] {{ {l.Function}({string.Join(", ", l.Args.Select(_ => "m"))}); }});");
        var program = string.Join("\n", [
            $"#include \"{header}\"",
            .. kernels.SelectMany(k => k.Helpers).Distinct(),
            .. kernels.Select(k => k.Source),
            "int main(int, char** argv)",
            "{",
            $"    static float m[{memory.Length}];",
            "    FILE* in = std::fopen(argv[1], \"rb\");",
            $"    if (!in || std::fread(m, 4, {memory.Length}, in) != {memory.Length}) return 3;",
            "    std::fclose(in);",
            .. launches,
            "    FILE* out = std::fopen(argv[2], \"wb\");",
            $"    std::fwrite(m, 4, {memory.Length}, out);",
            "    std::fclose(out);",
            "}"]);
        File.WriteAllText(Path.Combine(dir, "gemm.cpp"), program);
        var bytes = new byte[memory.Length * 4];
        System.Buffer.BlockCopy(memory, 0, bytes, 0, bytes.Length);
        File.WriteAllBytes(Path.Combine(dir, "in.bin"), bytes);
        Exec(compiler, ["-std=c++20", "-O1", "-pthread", "-o", Path.Combine(dir, "gemm"), Path.Combine(dir, "gemm.cpp")], dir);
        Exec(Path.Combine(dir, "gemm"), [Path.Combine(dir, "in.bin"), Path.Combine(dir, "out.bin")], dir);
        var after = new float[memory.Length];
        System.Buffer.BlockCopy(File.ReadAllBytes(Path.Combine(dir, "out.bin")), 0, after, 0, bytes.Length);
        Directory.Delete(dir, true);
        return after;
    }

    static void Exec(string file, string[] args, string dir)
    {
        var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        var errors = p.StandardError.ReadToEnd() + p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{Path.GetFileName(file)} exited with {p.ExitCode} (files in {dir}):\n{errors}");
    }
}
