using System.Diagnostics;
using Dsl.Core;

namespace Dsl.Runtime.Checks;

/// <summary>The result of one check on one device: the worst relative error over everything compared, where it was,
/// and whether it stayed within the case's tolerance.</summary>
public sealed record CheckResult(string Name, double Error, double Tolerance, string Worst, double Seconds)
{
    public bool Passed => Error <= Tolerance;
}

/// <summary>Runs checks on a device and on the reference device (the CPU) from identical inputs and compares every
/// buffer. The error of a float buffer is max|a - b| / max|b| over the buffer (normwise, so values near zero
/// do not dominate); int buffers (argmax, labels) must match exactly.</summary>
public static class Harness
{
    /// <summary>Runs one kernel case on both devices.</summary>
    public static CheckResult Check(IDevice device, IDevice reference, KernelCase c, int seed = 1)
    {
        var clock = Stopwatch.StartNew();
        var inputs = Inputs(c, seed);
        var (got, gotLoss) = Execute(device, c, inputs);
        var (want, wantLoss) = Execute(reference, c, inputs);
        var worst = ("", 0.0);
        foreach (var b in c.Plan.Buffers.Where(b => c.Fills[b.Id] != Fill.Scratch))
        {
            bool ints = c.Fills[b.Id] == Fill.Labels || b.Name == "argmax";
            var e = ints ? IntMismatch(got[b.Id], want[b.Id]) : Relative(got[b.Id], want[b.Id]);
            if (e >= worst.Item2) worst = (b.Name, e);
        }
        if (!double.IsNaN(wantLoss))
        {
            var e = Math.Abs(gotLoss - wantLoss) / Math.Max(Math.Abs(wantLoss), 1e-30);
            if (double.IsNaN(gotLoss) || e >= worst.Item2) worst = ("loss", double.IsNaN(gotLoss) ? double.PositiveInfinity : e);
        }
        return new CheckResult(c.Name, worst.Item2, Tolerance(device, c.Plan, c.Tolerance), worst.Item1, clock.Elapsed.TotalSeconds);
    }

    /// <summary>A whole training step of a planned network on both devices from the same weights and batch: the loss,
    /// the class probabilities and every parameter gradient, then one SGD update and the next step's loss.</summary>
    public static CheckResult Step(IDevice device, IDevice reference, string name, Plan plan, double tolerance, int seed = 1)
    {
        var clock = Stopwatch.StartNew();
        var got = RunStep(device, plan, seed);
        var want = RunStep(reference, plan, seed);
        var errors = new List<(string Where, double Error)>
        {
            ("loss", Math.Abs(got.Loss - want.Loss) / Math.Abs(want.Loss)),
            // One update can take a small batch's loss near zero: measured against the first loss, not itself.
            ("loss after an update", Math.Abs(got.Next - want.Next) / Math.Max(Math.Abs(want.Next), Math.Abs(want.Loss))),
            ("probabilities", Relative(got.Probs, want.Probs)),
        };
        errors.AddRange(want.Grads.Select(kv => (kv.Key, Relative(got.Grads[kv.Key], kv.Value))));
        var worst = errors.MaxBy(e => double.IsNaN(e.Error) ? double.PositiveInfinity : e.Error);
        var detail = $"{worst.Where}; loss {got.Loss:G7} vs {want.Loss:G7} on {reference.Name}";
        return new CheckResult(name, double.IsNaN(worst.Error) ? double.PositiveInfinity : worst.Error,
            Tolerance(device, plan, tolerance, KernelCases.Tf32Step), detail, clock.Elapsed.TotalSeconds);
    }

    /// <summary>Whether the device computes convolution and dense products on TF32 tensor cores.</summary>
    public static bool OnTensorCores(IDevice device) => device is Cuda.CudaDevice { Tuning.TensorCores: true };

    /// <summary>A plan with convolution or dense products on tensor cores inherits TF32's rounding of their inputs (2^-11
    /// relative per input), so it is held to a TF32 tolerance rather than an FP32 one.</summary>
    static double Tolerance(IDevice device, Plan plan, double fp32, double tf32 = KernelCases.Tf32)
    {
        bool products = plan.Kernels.Any(k => k.IsConvForward || k.IsConvBackwardData || k.IsConvBackwardFilter
            || k.IsDenseForward || k.IsDenseBackwardData || k.IsDenseBackwardWeights);
        return products && OnTensorCores(device) ? Math.Max(fp32, tf32) : fp32;
    }

    sealed record StepOutcome(double Loss, double Next, float[] Probs, Dictionary<string, float[]> Grads);

    static StepOutcome RunStep(IDevice device, Plan plan, int seed)
    {
        using var parameters = new ParameterSet(device, plan, seed);
        parameters.Initialize(InitScheme.He);
        using var runner = device.Load(plan, parameters);
        var rng = new Random(seed);
        var images = new float[plan.Buffers[plan.Images].Floats];
        for (int i = 0; i < images.Length; i++) images[i] = (float)(rng.NextDouble() * 2 - 1);
        var labels = Enumerable.Range(0, plan.Batch).Select(_ => rng.Next(plan.Classes)).ToArray();
        runner.SetBatch(images, labels);
        var loss = runner.Run(1);
        var probs = new float[plan.Batch * plan.Classes];
        runner.ReadProbabilities(probs);
        var grads = plan.Params.ToDictionary(p => plan.Buffers[p.Grad].Name, p => parameters.Read(plan.Buffers[p.Grad].Name));
        runner.Update(Optimizer.NewSgd(0.01, 0.9, false, 5e-4), 0.01, 1);
        return new StepOutcome(loss, runner.Run(2), probs, grads);
    }

    static Dictionary<int, float[]> Inputs(KernelCase c, int seed)
    {
        // A stable mix of the seed and the case's name (string.GetHashCode differs per process): repeatable inputs.
        var rng = new Random(c.Name.Aggregate(seed, (h, ch) => unchecked(h * 31 + ch)));
        return c.Plan.Buffers.ToDictionary(b => b.Id, b =>
        {
            var v = new float[b.Floats];
            for (int i = 0; i < v.Length; i++)
                v[i] = c.Fills[b.Id] switch
                {
                    Fill.Labels => BitConverter.Int32BitsToSingle(rng.Next(c.Plan.Classes)),
                    Fill.Positive => (float)(0.5 + rng.NextDouble()),
                    _ => (float)(rng.NextDouble() * 2 - 1),
                };
            return v;
        });
    }

    static (Dictionary<int, float[]>, double) Execute(IDevice device, KernelCase c, Dictionary<int, float[]> inputs)
    {
        using var parameters = new ParameterSet(device, c.Plan, seed: 11);
        foreach (var b in c.Plan.Buffers) parameters.Write(b.Name, inputs[b.Id]);
        using var runner = device.Load(c.Plan, parameters);
        runner.FirstSample = c.FirstSample;
        double loss = double.NaN;
        if (c.Optimizer is { } optimizer)
            for (int t = 1; t <= 3; t++) runner.Update(optimizer, 0.05, t);
        else loss = runner.Run(7);
        return (c.Plan.Buffers.ToDictionary(b => b.Id, b => parameters.Read(b.Name)), loss);
    }

    static double Relative(float[] got, float[] want)
    {
        double diff = 0, scale = 0;
        for (int i = 0; i < want.Length; i++)
        {
            double d = Math.Abs((double)got[i] - want[i]);
            if (double.IsNaN(d)) return double.PositiveInfinity;
            diff = Math.Max(diff, d);
            scale = Math.Max(scale, Math.Abs(want[i]));
        }
        return diff == 0 ? 0 : diff / Math.Max(scale, 1e-30);
    }

    /// <summary>Fraction of int entries that differ (0 when all match).</summary>
    static double IntMismatch(float[] got, float[] want)
    {
        int bad = 0;
        for (int i = 0; i < want.Length; i++)
            if (BitConverter.SingleToInt32Bits(got[i]) != BitConverter.SingleToInt32Bits(want[i])) bad++;
        return want.Length == 0 ? 0 : (double)bad / want.Length;
    }
}
