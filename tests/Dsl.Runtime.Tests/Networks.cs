using Dsl.Compiler;
using Dsl.Core;
using Dsl.Runtime;
using Dsl.Runtime.Cpu;

namespace Dsl.Runtime.Tests;

/// <summary>Compiling model text and running planned steps, shared by the runtime tests.</summary>
static class Networks
{
    public static string RepoRoot { get; } = FindRoot();

    static string FindRoot()
    {
        var d = new DirectoryInfo(AppContext.BaseDirectory);
        while (d is not null && !File.Exists(Path.Combine(d.FullName, "Dsl.sln"))) d = d.Parent;
        return d?.FullName ?? throw new InvalidOperationException("repository root not found");
    }

    public static Shapes.Inferred Model(string file, int classes) =>
        Frontend.compileFile(Path.Combine(RepoRoot, "Models", file), classes).Item1;

    public static Shapes.Inferred Text(string source, int classes = 10) => Frontend.compileText("test.model", classes, source);

    /// <summary>Random images of the network's input shape and labels, from a seed.</summary>
    public static (float[] images, int[] labels) RandomBatch(Plan plan, int seed)
    {
        var rng = new Random(seed);
        var images = new float[plan.Buffers[plan.Images].Floats];
        for (int i = 0; i < images.Length; i++) images[i] = (float)(rng.NextDouble() * 2 - 1);
        var labels = Enumerable.Range(0, plan.Batch).Select(_ => rng.Next(plan.Classes)).ToArray();
        return (images, labels);
    }
}
