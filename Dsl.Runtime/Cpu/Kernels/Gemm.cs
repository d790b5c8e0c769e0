using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace Dsl.Runtime.Cpu;

/// <summary>Single-precision matrix multiply (row-major), packed and cache-blocked, parallel over tiles of C.</summary>
public static unsafe class Gemm
{
    // Zen 4/5 blocking: a KC x NC block of B stays in L2 (~480 KiB), an MR x KC sliver of A in L1.
    private const int KcMax = 320;
    private const int McMax = 1024;
    private static readonly int NcMax = GemmMicroKernel.NR * 8;

    // Below this many flops per thread the dispatch costs more than it saves (about a microsecond to a spinning worker:
    // a first layer at batch 1, 1.8 MFLOP, took 28 us on one thread and 21 on two).
    private const double MinFlopsPerThread = 2e5;

    [ThreadStatic] private static float[]? t_packA, t_packB;

    /// <summary>C = alpha * op(A) * op(B) + beta * C, all row-major; beta == 0 never reads C.</summary>
    public static void Sgemm(bool transA, bool transB, int M, int N, int K, float alpha,
        float* A, int lda, float* B, int ldb, float beta, float* C, int ldc) =>
        Run(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, default);

    internal static void Run(bool transA, bool transB, int M, int N, int K, float alpha,
        float* A, int lda, float* B, int ldb, float beta, float* C, int ldc, in GemmEpilogue epilogue) =>
        Run(new PackedA(transA, A, lda, null), transB, M, N, K, alpha, B, ldb, beta, C, ldc, epilogue);

    /// <summary>Equal K blocks of at most KcMax (not KcMax + remainder) keep the panels balanced; they depend only on K.</summary>
    private static int KcFor(int K) => K <= 0 ? 1 : (K + (K + KcMax - 1) / KcMax - 1) / ((K + KcMax - 1) / KcMax);

    /// <summary>Floats that <see cref="Pack"/> writes for an M x K operand.</summary>
    internal static long PackedFloats(int M, int K) => (long)RoundUp(Math.Max(M, 1), GemmMicroKernel.MR) * Math.Max(K, 1);

    /// <summary>Packs all of op(A) (M x K) once, for several products with the same left operand (a convolution's
    /// weights against each image): per K block, every MR-row panel, as the GEMM would pack it itself.</summary>
    internal static PackedA Pack(bool transA, float* A, int lda, int M, int K, float* dst)
    {
        // Panels split between threads: at batch 1 a layer's weights are packed once per image, as much copying as the
        // image's own columns.
        PackPanels(false, transA, A, lda, M, K, dst);
        return new PackedA(transA, A, lda, dst);
    }

    /// <summary>Floats that <see cref="PackB"/> writes for a K x N operand.</summary>
    internal static long PackedFloatsB(int N, int K) => (long)RoundUp(Math.Max(N, 1), GemmMicroKernel.NR) * Math.Max(K, 1);

    /// <summary>Packs all of op(B) (K x N) once, for products with the same right operand (a dense layer's weights
    /// against each batch): per K block, every NR-column panel, where the GEMM would pack them itself. dst must be
    /// 64-byte aligned.</summary>
    internal static void PackB(bool transB, float* B, int ldb, int K, int N, float* dst) => PackPanels(true, transB, B, ldb, N, K, dst);

    /// <summary>All of an operand's panels, split between threads: MR rows of op(A) each, or NR columns of op(B) (the
    /// <paramref name="right"/> operand), <paramref name="size"/> rows or columns in all.</summary>
    private static void PackPanels(bool right, bool trans, float* src, int ld, int size, int K, float* dst)
    {
        var job = new PackJob { Right = right, Trans = trans, Src = src, Ld = ld, Size = size, K = K, Dst = dst };
        int width = right ? GemmMicroKernel.NR : GemmMicroKernel.MR;
        CpuThreads.For((size + width - 1) / width, Math.Max(1, (1 << 16) / Math.Max(1, width * K)), ref job);
    }

    private struct PackJob : IParallelJob
    {
        public bool Right, Trans;
        public float* Src, Dst;
        public int Ld, Size, K;

        public void Run(int begin, int end)
        {
            int width = Right ? GemmMicroKernel.NR : GemmMicroKernel.MR, kcMax = KcFor(K), pad = RoundUp(Size, width);
            int p0 = begin * width, count = Math.Min(end * width, Size) - p0;
            for (int k0 = 0; k0 < K; k0 += kcMax)
            {
                int kc = Math.Min(kcMax, K - k0);
                float* dst = Dst + (long)k0 * pad + (long)p0 * kc; // K block k0's panels start at k0 * pad
                if (Right) GemmPack.PackB(Trans, Src, Ld, k0, kc, p0, count, dst, width);
                else GemmPack.PackA(Trans, Src, Ld, p0, count, k0, kc, dst, width);
            }
        }
    }

    /// <summary>Whether the GEMM may read B in place rather than pack it: on AVX-512, B not transposed, its rows
    /// 64-byte aligned and readable up to N rounded up to 16 (the caller's promise), and K one block, so that each
    /// 48-column sliver of B (K rows) stays in L1 across the row panels that use it.</summary>
    internal static bool ReadsBInPlace(int K, float* B, int ldb) =>
        Avx512F.IsSupported && K <= KcMax && ((nint)B & 63) == 0 && ldb % 16 == 0;

    /// <summary>C = alpha * A * op(B) + beta * C with A given as packed panels (or as a matrix to pack on the way).
    /// <paramref name="inPlaceB"/>: B is read where it lies (see <see cref="ReadsBInPlace"/>, which must hold);
    /// <paramref name="packedB"/>: op(B) as <see cref="PackB"/> packed it (then B itself is not read).</summary>
    internal static void Run(in PackedA a, bool transB, int M, int N, int K, float alpha,
        float* B, int ldb, float beta, float* C, int ldc, in GemmEpilogue epilogue, bool inPlaceB = false, float* packedB = null)
    {
        if (M <= 0 || N <= 0) return;
        if (inPlaceB && (transB || !ReadsBInPlace(K, B, ldb))) throw new ArgumentException("B cannot be read in place here");
        if (((nint)packedB & 63) != 0) throw new ArgumentException("packed B must be 64-byte aligned (the micro-kernel's aligned loads)");
        var job = new GemmJob
        {
            TransA = a.TransA, TransB = transB, M = M, N = N, K = K, Alpha = alpha,
            A = a.Matrix, Lda = a.Lda, Packed = a.Panels, B = B, Ldb = ldb, Beta = beta, C = C, Ldc = ldc, Epilogue = epilogue,
            InPlaceB = inPlaceB, PackedB = packedB,
        };
        int mr = GemmMicroKernel.MR, nr = GemmMicroKernel.NR;
        int mTiles = (M + mr - 1) / mr, nTiles = (N + nr - 1) / nr;
        // Split the dimension with more tiles; each thread owns whole tiles of C, so summation order
        // (and hence every bit of the result) is independent of the thread count.
        // With A packed already, splitting M would have every thread pack all of B: split N whenever each thread gets a tile.
        // With B packed already, split M: packed panels start every NR columns, not at a thread's 16-column unit.
        job.SplitN = packedB == null && (nTiles >= mTiles || nTiles >= 4 * CpuThreads.Count || (a.Panels != null && NUnits(N) >= CpuThreads.Count));
        int tiles = job.SplitN ? NUnits(N) : mTiles;
        double flops = 2.0 * M * N * Math.Max(K, 1);
        int grain = (int)Math.Clamp(tiles * MinFlopsPerThread / flops, 1, tiles);
        CpuThreads.For(tiles, grain, ref job);
    }

    /// <summary>Rows [m0, m1) of C = A * B (C's rows of an M-row product; m0 a multiple of the panels' MR rows) on the
    /// calling thread, A packed already, B not transposed: the same tiles, so the same bits, as the parallel product
    /// computes for those rows.</summary>
    internal static void RunRows(in PackedA a, int m0, int m1, int M, int N, int K, float* B, int ldb, float* C, int ldc, bool inPlaceB)
    {
        if (m0 % GemmMicroKernel.MR != 0 || a.Panels == null) throw new ArgumentException("rows must start at a packed panel");
        if (m1 <= m0 || N <= 0) return;
        if (inPlaceB && !ReadsBInPlace(K, B, ldb)) throw new ArgumentException("B cannot be read in place here");
        var job = new GemmJob
        {
            M = M, N = N, K = K, Alpha = 1f, A = a.Matrix, Lda = a.Lda, Packed = a.Panels, B = B, Ldb = ldb, C = C, Ldc = ldc, InPlaceB = inPlaceB,
        };
        Block(ref job, m0, m1, 0, N);
    }

    /// <summary>Columns of C given out to threads at a time: 16, the narrow edge kernel's width, rather than a whole
    /// 48-column tile, so 64 or 196 columns split evenly (each element's sum is the same whichever kernel computes it).</summary>
    private static readonly int NUnit = GemmMicroKernel.NR % 16 == 0 ? 16 : GemmMicroKernel.NR;

    private static int NUnits(int n) => (n + NUnit - 1) / NUnit;

    private struct GemmJob : IParallelJob
    {
        public bool TransA, TransB, SplitN, InPlaceB;
        public int M, N, K, Lda, Ldb, Ldc;
        public float Alpha, Beta;
        public float* A, B, C, Packed, PackedB;
        public GemmEpilogue Epilogue;

        public void Run(int begin, int end)
        {
            if (SplitN) Block(ref this, 0, M, begin * NUnit, Math.Min(end * NUnit, N));
            else
            {
                int mr = GemmMicroKernel.MR;
                Block(ref this, begin * mr, Math.Min(end * mr, M), 0, N);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block(ref GemmJob g, int m0, int m1, int n0, int n1)
    {
        int mr = GemmMicroKernel.MR, nr = GemmMicroKernel.NR;
        if (g.K == 0 || g.Alpha == 0f)
        {
            ScaleOnly(ref g, m0, m1, n0, n1);
            return;
        }
        int kcMax = KcFor(g.K);
        int mcMax = Math.Min(RoundUp(m1 - m0, mr), McMax);
        int ncMax = Math.Min(RoundUp(n1 - n0, nr), NcMax);
        int mPad = RoundUp(g.M, mr);
        float* packA = g.Packed != null ? null : Scratch(ref t_packA, (long)mcMax * kcMax);
        float* packB = g.InPlaceB || g.PackedB != null ? null : Scratch(ref t_packB, (long)ncMax * kcMax);
        int nPad = RoundUp(g.N, nr);
        bool epilogue = !g.Epilogue.IsNone;

        for (int k0 = 0; k0 < g.K; k0 += kcMax)
        {
            int kc = Math.Min(kcMax, g.K - k0);
            float beta = k0 == 0 ? g.Beta : 1f;
            bool last = k0 + kc == g.K;
            for (int i0 = m0; i0 < m1; i0 += McMax)
            {
                int mc = Math.Min(McMax, m1 - i0);
                // Packed panels of rows i0.. (a multiple of MR) in K block k0 start at k0 * mPad + i0 * kc.
                float* panels = g.Packed != null ? g.Packed + (long)k0 * mPad + (long)i0 * kc : packA;
                if (g.Packed == null) GemmPack.PackA(g.TransA, g.A, g.Lda, i0, mc, k0, kc, packA, mr);
                for (int j0 = n0; j0 < n1; j0 += ncMax)
                {
                    int nc = Math.Min(ncMax, n1 - j0);
                    if (packB != null) GemmPack.PackB(g.TransB, g.B, g.Ldb, k0, kc, j0, nc, packB, nr);
                    // B's sliver: its packed panels (rows NR apart), packed here or before, or the matrix itself (rows ldb apart)
                    float* bBlock = g.InPlaceB ? g.B + (long)k0 * g.Ldb + j0 : g.PackedB != null ? g.PackedB + (long)k0 * nPad + (long)j0 * kc : packB;
                    int ldb = g.InPlaceB ? g.Ldb : nr;
                    for (int ir = 0; ir < mc; ir += mr)
                    {
                        int rows = Math.Min(mr, mc - ir);
                        float* pa = panels + (long)ir * kc;
                        float* crow = g.C + (long)(i0 + ir) * g.Ldc;
                        for (int jr = 0; jr < nc; jr += nr)
                        {
                            int cols = Math.Min(nr, nc - jr);
                            float* c = crow + j0 + jr;
                            GemmMicroKernel.Tile(kc, pa, bBlock + (g.InPlaceB ? jr : (long)jr * kc), c, g.Ldc, g.Alpha, beta, rows, cols, ldb);
                            if (last && epilogue) g.Epilogue.Apply(c, g.Ldc, i0 + ir, j0 + jr, rows, cols);
                        }
                    }
                }
            }
        }
    }

    private static void ScaleOnly(ref GemmJob g, int m0, int m1, int n0, int n1)
    {
        for (int i = m0; i < m1; i++)
        {
            float* c = g.C + (long)i * g.Ldc;
            for (int j = n0; j < n1; j++) c[j] = g.Beta == 0f ? 0f : g.Beta * c[j];
        }
        if (!g.Epilogue.IsNone) g.Epilogue.Apply(g.C + (long)m0 * g.Ldc + n0, g.Ldc, m0, n0, m1 - m0, n1 - n0);
    }

    private static int RoundUp(int x, int m) => (x + m - 1) / m * m;

    /// <summary>Thread-local 64-byte-aligned scratch from the pinned heap, grown (never shrunk) on demand.</summary>
    internal static float* Scratch(ref float[]? buffer, long floats)
    {
        if (buffer == null || buffer.Length < floats + 16)
            buffer = GC.AllocateUninitializedArray<float>((int)Math.Max(floats + 16, (buffer?.Length ?? 0) * 5L / 4), pinned: true);
        nint p = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(buffer));
        return (float*)((p + 63) & ~(nint)63);
    }
}

/// <summary>The left operand of a GEMM: a row-major matrix (transposed or not) and, when <see cref="Panels"/> is set,
/// the panels <see cref="Gemm.Pack"/> made of it.</summary>
internal readonly unsafe struct PackedA(bool transA, float* matrix, int lda, float* panels)
{
    public readonly bool TransA = transA;
    public readonly float* Matrix = matrix, Panels = panels;
    public readonly int Lda = lda;
}
