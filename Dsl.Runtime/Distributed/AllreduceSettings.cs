using System.Globalization;

namespace Dsl.Runtime.Distributed;

/// <summary>How a job's gradients travel: the bucket size, and whether each bucket's allreduce overlaps the backward pass
/// (CPU device). Neither changes the weights a run ends with. Set for a run by the environment: DSL_BUCKET_MB (25 by
/// default, PyTorch DDP's bucket_cap_mb; MB of 10^6 bytes) and DSL_OVERLAP (1 by default; 0 averages every bucket after
/// the backward pass, as before overlap was built, for comparison).</summary>
public sealed record AllreduceSettings(int BucketFloats, bool Overlap)
{
    public static readonly AllreduceSettings Default = new(GradientBuckets.BucketFloats, true);

    public static AllreduceSettings FromEnvironment(Func<string, string?> env)
    {
        int floats = Default.BucketFloats;
        if (env("DSL_BUCKET_MB") is { } mb)
            floats = double.TryParse(mb, NumberStyles.Float, CultureInfo.InvariantCulture, out var m) && m * 1e6 / sizeof(float) is >= 1 and <= int.MaxValue
                ? (int)(m * 1e6 / sizeof(float))
                : throw new DistributedException($"DSL_BUCKET_MB={mb}: give the size of a gradient bucket in MB (10^6 bytes), a number above 0 and at most 8589, " +
                    "such as 25 (the default, PyTorch DDP's bucket_cap_mb)");
        bool overlap = env("DSL_OVERLAP") switch
        {
            null or "1" => true,
            "0" => false,
            var other => throw new DistributedException($"DSL_OVERLAP={other}: give 1 to overlap the gradient allreduce with the backward pass (the default) or 0 to average after it"),
        };
        return new AllreduceSettings(floats, overlap);
    }
}
