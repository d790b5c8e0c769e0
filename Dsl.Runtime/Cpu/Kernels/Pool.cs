using System;

namespace Dsl.Runtime.Cpu;

/// <summary>Max and average pooling, parallel over N*C planes; windows are clipped to the input (and padded extent for averages).</summary>
public static unsafe class Pool
{
    /// <summary>y = window max; argmax gets the winner's index ih*W + iw within its input plane (-1 and y = 0 for a window with no input cell).</summary>
    public static void MaxForward(PoolGeometry g, float* x, float* y, int* argmax)
    {
        var job = new Job { G = g, X = x, Y = y, Arg = argmax, Kind = Op.MaxForward };
        CpuThreads.For(g.N * g.C, Grain(g), ref job);
    }

    /// <summary>dx = dy routed to each window's argmax (overwrites dx).</summary>
    public static void MaxBackward(PoolGeometry g, float* dy, int* argmax, float* dx)
    {
        var job = new Job { G = g, X = dx, Y = dy, Arg = argmax, Kind = Op.MaxBackward };
        CpuThreads.For(g.N * g.C, Grain(g), ref job);
    }

    /// <summary>y = window sum / positions of the window inside the zero-padded input (count_include_pad).</summary>
    public static void AvgForward(PoolGeometry g, float* x, float* y)
    {
        var job = new Job { G = g, X = x, Y = y, Kind = Op.AvgForward };
        CpuThreads.For(g.N * g.C, Grain(g), ref job);
    }

    /// <summary>dx = dy spread evenly over each window (overwrites dx).</summary>
    public static void AvgBackward(PoolGeometry g, float* dy, float* dx)
    {
        var job = new Job { G = g, X = dx, Y = dy, Kind = Op.AvgBackward };
        CpuThreads.For(g.N * g.C, Grain(g), ref job);
    }

    private enum Op { MaxForward, MaxBackward, AvgForward, AvgBackward }

    private static int Grain(in PoolGeometry g) => Math.Max(1, (1 << 14) / Math.Max(1, g.Ho * g.Wo * g.KernelH * g.KernelW));

    private struct Job : IParallelJob
    {
        public PoolGeometry G;
        public float* X, Y; // X: input (or dx), Y: output (or dy)
        public int* Arg;
        public Op Kind;

        public void Run(int begin, int end)
        {
            long inPlane = (long)G.H * G.W, outPlane = (long)G.Ho * G.Wo;
            for (int p = begin; p < end; p++)
            {
                float* x = X + p * inPlane, y = Y + p * outPlane;
                int* arg = Arg + p * outPlane;
                if (Kind is Op.MaxBackward or Op.AvgBackward) new Span<float>(x, (int)inPlane).Clear();
                for (int oh = 0; oh < G.Ho; oh++)
                {
                    int hs = oh * G.StrideH - G.PadH, h0 = Math.Max(hs, 0), h1 = Math.Min(hs + G.KernelH, G.H);
                    for (int ow = 0; ow < G.Wo; ow++)
                    {
                        int ws = ow * G.StrideW - G.PadW, w0 = Math.Max(ws, 0), w1 = Math.Min(ws + G.KernelW, G.W);
                        int o = oh * G.Wo + ow;
                        switch (Kind)
                        {
                            case Op.MaxForward:
                            {
                                float best = float.NegativeInfinity;
                                int at = -1;
                                for (int ih = h0; ih < h1; ih++)
                                for (int iw = w0; iw < w1; iw++)
                                {
                                    float v = x[ih * G.W + iw];
                                    if (v > best || at < 0) { best = v; at = ih * G.W + iw; }
                                }
                                y[o] = at < 0 ? 0f : best;
                                arg[o] = at;
                                break;
                            }
                            case Op.MaxBackward:
                                if (arg[o] >= 0) x[arg[o]] += y[o];
                                break;
                            case Op.AvgForward:
                            {
                                float sum = 0f;
                                for (int ih = h0; ih < h1; ih++)
                                for (int iw = w0; iw < w1; iw++) sum += x[ih * G.W + iw];
                                y[o] = sum / Count(hs, ws);
                                break;
                            }
                            default:
                            {
                                float share = y[o] / Count(hs, ws);
                                for (int ih = h0; ih < h1; ih++)
                                for (int iw = w0; iw < w1; iw++) x[ih * G.W + iw] += share;
                                break;
                            }
                        }
                    }
                }
            }
        }

        // Window positions inside [-pad, size + pad) on each axis.
        private readonly int Count(int hs, int ws) =>
            Math.Max(1, (Math.Min(hs + G.KernelH, G.H + G.PadH) - hs) * (Math.Min(ws + G.KernelW, G.W + G.PadW) - ws));
    }
}
