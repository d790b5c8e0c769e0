// Runs generated CUDA C on the CPU, for the tests of the tensor-core GEMMs (CudaEmulatorTests): a block's threads are
// std::threads meeting at __syncthreads, a warp's 32 threads meet inside the emulated mma.sync, whose fragment layouts
// are written here from the PTX ISA's description of mma.m16n8k8 with .tf32 operands, independently of the renderer.
// One-dimensional blocks only, as the GEMM kernels use.
#include <barrier>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#define __global__
#define __device__
#define __shared__ static
#define __launch_bounds__(n)
struct uint3 { unsigned x, y, z; };
inline thread_local uint3 threadIdx, blockIdx;
inline uint3 blockDim, gridDim;
struct float2 { float x, y; };
struct float4 { float x, y, z, w; };
inline int max(int a, int b) { return a > b ? a : b; }
inline int min(int a, int b) { return a < b ? a : b; }
inline float __uint_as_float(unsigned u) { float f; std::memcpy(&f, &u, 4); return f; }
inline unsigned __float_as_uint(float f) { unsigned u; std::memcpy(&u, &f, 4); return u; }

inline std::barrier<>* dsl_block;
inline void __syncthreads() { dsl_block->arrive_and_wait(); }

// cvt.rna.tf32.f32: round to nearest with ties away from zero, keeping 10 of the 23 mantissa bits.
inline float dsl_emulated_tf32(float x)
{
    unsigned u = __float_as_uint(x);
    if ((u & 0x7f800000u) != 0x7f800000u) u += 0x1000u;
    return __uint_as_float(u & 0xffffe000u);
}

struct DslWarp
{
    std::barrier<> meet{32};
    float a[16][8], b[8][8];
};
inline std::vector<std::unique_ptr<DslWarp>> dsl_warps;

// mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32, lane = 4 * group + t:
//   A (16 x 8):  a0 (group, t), a1 (group + 8, t), a2 (group, t + 4), a3 (group + 8, t + 4)
//   B (8 x 8):   b0 (row t, column group), b1 (row t + 4, column group)
//   C, D (16 x 8): c0 (group, 2t), c1 (group, 2t + 1), c2 (group + 8, 2t), c3 (group + 8, 2t + 1)
inline void dsl_emulated_mma_tf32(float* d, const float* a, const float* b)
{
    const float operands[6] = {a[0], a[1], a[2], a[3], b[0], b[1]};
    for (float v : operands)
        if (__float_as_uint(v) & 0x1fffu)
        {
            std::fprintf(stderr, "an mma operand was not rounded to TF32\n");
            std::abort();
        }
    const int lane = threadIdx.x % 32, group = lane / 4, t = lane % 4;
    DslWarp& w = *dsl_warps[threadIdx.x / 32];
    w.a[group][t] = a[0];
    w.a[group + 8][t] = a[1];
    w.a[group][t + 4] = a[2];
    w.a[group + 8][t + 4] = a[3];
    w.b[t][group] = b[0];
    w.b[t + 4][group] = b[1];
    w.meet.arrive_and_wait();
    for (int q = 0; q < 4; q++)
    {
        const int row = group + q / 2 * 8, col = 2 * t + q % 2;
        double sum = 0.0;
        for (int k = 0; k < 8; k++) sum += (double)w.a[row][k] * w.b[k][col];
        d[q] += (float)sum;
    }
    w.meet.arrive_and_wait();
}

// Runs `kernel` over a grid of one-dimensional blocks, one block at a time (so __shared__ statics are per block).
template <class Kernel>
void dsl_launch(uint3 grid, unsigned threads, Kernel kernel)
{
    gridDim = grid;
    blockDim = {threads, 1, 1};
    for (unsigned z = 0; z < grid.z; z++)
        for (unsigned y = 0; y < grid.y; y++)
            for (unsigned x = 0; x < grid.x; x++)
            {
                std::barrier<> block(threads);
                dsl_block = &block;
                dsl_warps.clear();
                for (unsigned w = 0; w < (threads + 31) / 32; w++) dsl_warps.push_back(std::make_unique<DslWarp>());
                std::vector<std::thread> team;
                for (unsigned i = 0; i < threads; i++)
                    team.emplace_back([=] {
                        threadIdx = {i, 0, 0};
                        blockIdx = {x, y, z};
                        kernel();
                    });
                for (auto& th : team) th.join();
            }
}
