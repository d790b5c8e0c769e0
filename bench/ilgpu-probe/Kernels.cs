using ILGPU;
using ILGPU.Runtime.Cuda;

/// <summary>The kernels the probe compiles with ILGPU: a TF32 tensor-core loop through inline PTX, and a 16x16-tiled GEMM.</summary>
static class Kernels
{
    public const int Tile = 16;

    /// <summary>One warp accumulates a 16x8 block of C = A (16 x k) B (k x 8) with mma.sync m16n8k8 TF32, 8 deep per step;
    /// A and B pass through shared memory as in dsl's GEMM. Inline PTX reaches ILGPU as CudaAsm.EmitRef, whose operands are
    /// references: that is where local memory comes in.</summary>
    public static void MmaTf32(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, int k)
    {
        var As = SharedMemory.Allocate<float>(16 * 8);
        var Bs = SharedMemory.Allocate<float>(8 * 8);
        int lane = Group.IdxX, group = lane / 4, t = lane % 4;
        Ref<float> d0 = default, d1 = default, d2 = default, d3 = default;
        for (int k0 = 0; k0 < k; k0 += 8)
        {
            for (int e = lane; e < 128; e += 32) As[e] = a[(e / 8) * k + k0 + e % 8];
            for (int e = lane; e < 64; e += 32) Bs[e] = b[(k0 + e / 8) * 8 + e % 8];
            Group.Barrier();
            Input<uint> a0 = Tf32(As[group * 8 + t]), a1 = Tf32(As[(group + 8) * 8 + t]);
            Input<uint> a2 = Tf32(As[group * 8 + t + 4]), a3 = Tf32(As[(group + 8) * 8 + t + 4]);
            Input<uint> b0 = Tf32(Bs[t * 8 + group]), b1 = Tf32(Bs[(t + 4) * 8 + group]);
            CudaAsm.EmitRef(
                "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};",
                ref d0, ref d1, ref d2, ref d3, ref a0, ref a1, ref a2, ref a3, ref b0, ref b1);
            Group.Barrier();
        }
        c[group * 8 + 2 * t] = d0.Value;
        c[group * 8 + 2 * t + 1] = d1.Value;
        c[(group + 8) * 8 + 2 * t] = d2.Value;
        c[(group + 8) * 8 + 2 * t + 1] = d3.Value;
    }

    static uint Tf32(float x)
    {
        uint r = 0;
        CudaAsm.Emit("cvt.rna.tf32.f32 %0, %1;", out r, x);
        return r;
    }

    /// <summary>C (n x n) = A B, 16x16 tiles of A and B in shared memory, one output per thread of a 16x16 group.</summary>
    public static void TiledGemm(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, int n)
    {
        var As = SharedMemory.Allocate<float>(Tile * Tile);
        var Bs = SharedMemory.Allocate<float>(Tile * Tile);
        int tx = Group.IdxX, ty = Group.IdxY;
        int row = Grid.IdxY * Tile + ty, col = Grid.IdxX * Tile + tx;
        float sum = 0;
        for (int k0 = 0; k0 < n; k0 += Tile)
        {
            As[ty * Tile + tx] = a[row * n + k0 + tx];
            Bs[ty * Tile + tx] = b[(k0 + ty) * n + col];
            Group.Barrier();
            for (int k = 0; k < Tile; k++) sum += As[ty * Tile + k] * Bs[k * Tile + tx];
            Group.Barrier();
        }
        c[row * n + col] = sum;
    }
}
