using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Algorithms.ScanReduceOperations;

namespace Dsl.Runtime.Ilgpu.Kernels;

public struct ChannelArgs
{
    public int N, C, HW;
    public ArrayView<float> Dy, Sums;
}

/// <summary>Sums per channel over the batch, one group per channel: each thread sums a strided share and ILGPU.Algorithms'
/// group reduction adds the shares.</summary>
public static class Reduce
{
    /// <summary>Element e (0 to N*HW - 1) of channel c in an [N, C, HW] tensor.</summary>
    public static int At(int e, int c, int C, int HW) => (e / HW * C + c) * HW + e % HW;

    /// <summary>sums[c] = sum over n and the HW positions of dy[n, c, position]: the bias gradients of convolutions and
    /// dense layers (HW = 1).</summary>
    public static void ChannelSums(ChannelArgs a)
    {
        int c = Grid.IdxX;
        float part = 0f;
        for (int e = Group.IdxX; e < a.N * a.HW; e += Group.DimX) part += a.Dy[At(e, c, a.C, a.HW)];
        float total = GroupExtensions.AllReduce<float, AddFloat>(part);
        if (Group.IsFirstThread) a.Sums[c] = total;
    }
}
