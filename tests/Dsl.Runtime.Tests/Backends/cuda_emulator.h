// Runs generated CUDA C on the CPU, for the tests of the tensor-core GEMMs (CudaEmulatorTests): a block's threads are
// std::threads meeting at __syncthreads, a warp's 32 threads meet inside the emulated mma.sync and ldmatrix, whose
// layouts are written here from the PTX ISA's description of mma.m16n8k8 with .tf32 operands and of ldmatrix .x4,
// independently of the renderer; cp.async copies land as late as its wait_group allows. One-dimensional blocks only, as
// the GEMM kernels use.
#include <barrier>
#include <cstdint>
#include <deque>
#include <limits>
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
    const float* rows[32];
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

// The running block's dynamic shared memory (dsl_launch's `shared` bytes), NaN until written: a read of a stage that no
// copy has reached yet shows in the result.
inline std::vector<float> dsl_dynamic;
inline float* dsl_emulated_dynamic_shared() { return dsl_dynamic.data(); }

inline void dsl_check_shared(const float* p, std::size_t bytes, const char* what)
{
    if (p < dsl_dynamic.data() || p + bytes / 4 > dsl_dynamic.data() + dsl_dynamic.size())
    {
        std::fprintf(stderr, "%s outside the block's dynamic shared memory\n", what);
        std::abort();
    }
}

// cp.async: a copy lands at some time before the cp.async.wait_group that covers its group; these land at that wait, the
// latest the PTX ISA allows, so reading a stage before the right wait sees NaN or the slice it held before.
struct DslCopy { float* dst; const float* src; };
inline thread_local std::vector<DslCopy> dsl_open_group;
inline thread_local std::deque<std::vector<DslCopy>> dsl_groups;

inline void dsl_emulated_cp_async(float* dst, const float* src)
{
    dsl_check_shared(dst, 4, "a cp.async destination");
    dsl_open_group.push_back({dst, src});
}

inline void dsl_emulated_cp_async_commit()
{
    dsl_groups.push_back(std::move(dsl_open_group));
    dsl_open_group.clear();
}

// cp.async.wait_group n: every committed group but the newest n has landed (copies not yet committed are not waited for).
inline void dsl_emulated_cp_async_wait(int n)
{
    while ((int)dsl_groups.size() > n)
    {
        for (const DslCopy& c : dsl_groups.front()) *c.dst = *c.src;
        dsl_groups.pop_front();
    }
}

// ldmatrix.sync.aligned.m8n8.x4.shared.b16, read as 32-bit values: lane 8q + i gives the address of row i of matrix q
// (16 bytes, 16-byte aligned); lane l receives in r[q] the 32-bit word l % 4 of row l / 4 of matrix q.
inline void dsl_emulated_ldmatrix_x4(float* r, const float* p)
{
    dsl_check_shared(p, 16, "an ldmatrix row");
    if (reinterpret_cast<std::uintptr_t>(p) % 16 != 0)
    {
        std::fprintf(stderr, "an ldmatrix row address is not 16-byte aligned\n");
        std::abort();
    }
    const int lane = threadIdx.x % 32;
    DslWarp& w = *dsl_warps[threadIdx.x / 32];
    w.rows[lane] = p;
    w.meet.arrive_and_wait();
    for (int q = 0; q < 4; q++) r[q] = w.rows[8 * q + lane / 4][lane % 4];
    w.meet.arrive_and_wait();
}

// Runs `kernel` over a grid of one-dimensional blocks, one block at a time (so __shared__ statics are per block), each
// with `shared` bytes of dynamic shared memory.
template <class Kernel>
void dsl_launch(uint3 grid, unsigned threads, unsigned shared, Kernel kernel)
{
    gridDim = grid;
    blockDim = {threads, 1, 1};
    for (unsigned z = 0; z < grid.z; z++)
        for (unsigned y = 0; y < grid.y; y++)
            for (unsigned x = 0; x < grid.x; x++)
            {
                std::barrier<> block(threads);
                dsl_block = &block;
                dsl_dynamic.assign(shared / 4, std::numeric_limits<float>::quiet_NaN());
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
