// Just enough of CUDA's device environment for a host C++ compiler to check generated CUDA C (CudaSourceTests).
#include <cmath>
#define __global__
#define __device__
#define __shared__ static
#define __launch_bounds__(n)
struct uint3 { unsigned x, y, z; };
extern uint3 threadIdx, blockIdx, blockDim;
void __syncthreads();
struct float2 { float x, y; };
struct float4 { float x, y, z, w; };
inline int max(int a, int b) { return a > b ? a : b; }
inline int min(int a, int b) { return a < b ? a : b; }
