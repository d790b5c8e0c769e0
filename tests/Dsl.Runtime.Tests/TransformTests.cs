using Dsl.Runtime.Data;
using Xunit;

namespace Dsl.Runtime.Tests;

/// <summary>Augmentation geometry against index arithmetic done by hand.</summary>
public class TransformTests
{
    const int N = 6;

    // A 6x6 grey image whose pixel (y, x) is 10*y + x, no resizing, no normalisation: output = pixel value.
    static (ImageSet set, Transform transform) Identity(string augment)
    {
        var pixels = new byte[N * N];
        for (int y = 0; y < N; y++) for (int x = 0; x < N; x++) pixels[y * N + x] = (byte)(10 * y + x);
        var set = new ImageSet(pixels, [0], 1, N, N, ["only"]);
        var config = Networks.Text($"network t\n  input 1 x {N} x {N}\n  flatten\n  dense 2\n  softmax\ntrain\n  augment {augment}\n").Network.Train!.Value;
        return (set, new Transform(set, 1, N, N, config, ([0f], [1 / 255f])));
    }

    static float[] Affine(string augment, double degrees, int ty, int tx, bool flip = false)
    {
        var (set, t) = Identity(augment);
        var output = new float[N * N];
        t.Affine(set.Image(0), output, degrees, ty, tx, 0, 0, flip, false, 1, 0);
        return output;
    }

    [Fact]
    public void AQuarterTurnMovesEveryPixelWhereIndexArithmeticSays()
    {
        var output = Affine("rotate 90", 90, 0, 0);
        // Output (y, x) samples the input at the point rotated back by 90 degrees about the centre: (x, N-1-y) up to
        // the sign convention; check both axes move as a rotation (a permutation of all 36 values, none black).
        Assert.Equal(Enumerable.Range(0, N).SelectMany(y => Enumerable.Range(0, N).Select(x => (float)(10 * y + x))).Order(), output.Order());
        var expected = Enumerable.Range(0, N * N).Select(i => { int y = i / N, x = i % N; return (float)(10 * (N - 1 - x) + y); }).ToArray();
        var other = Enumerable.Range(0, N * N).Select(i => { int y = i / N, x = i % N; return (float)(10 * x + (N - 1 - y)); }).ToArray();
        Assert.True(output.SequenceEqual(expected) || output.SequenceEqual(other), string.Join(",", output));
    }

    [Fact]
    public void AShiftMovesPixelsAndLeavesBlack()
    {
        var output = Affine("translate 2", 0, 1, 2);
        for (int y = 0; y < N; y++)
            for (int x = 0; x < N; x++)
                Assert.Equal(y >= 1 && x >= 2 ? 10 * (y - 1) + (x - 2) : 0, output[y * N + x], 3);
    }

    [Fact]
    public void TheAffinePathAgreesWithTheSeparableOneWhenItDoesNothing()
    {
        var (set, plain) = Identity("flip horizontal");
        var separable = new float[N * N];
        plain.Apply(set.Image(0), separable, 0UL);   // random 0: no crop offset; bit 32 clear, so no flip
        Assert.Equal(separable, Affine("rotate 1", 0, 0, 0), new FloatTolerance(1e-4f));
        var flipped = new float[N * N];
        plain.Apply(set.Image(0), flipped, 1UL << 32);
        Assert.Equal(flipped, Affine("rotate 1", 0, 0, 0, flip: true), new FloatTolerance(1e-4f));
    }

    sealed class FloatTolerance(float tolerance) : IEqualityComparer<float>
    {
        public bool Equals(float a, float b) => Math.Abs(a - b) <= tolerance;
        public int GetHashCode(float v) => 0;
    }
}
