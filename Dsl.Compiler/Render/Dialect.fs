/// What differs between CUDA C and OpenCL C, as data: the renderer writes every kernel once and asks
/// the dialect for qualifiers, indices, barriers, local memory, math names and vector loads.
module Dsl.Compiler.Render.Dialect

/// Products on tensor cores: helper functions that round a float to TF32 (`Round(x)`) and add the 16 x 8 x 8 product
/// of a warp's fragments to its accumulators (`Mma(acc[4], a[4], b[2])`, the inputs already rounded).
type TensorCoreOps =
    { Round: string
      Mma: string
      Helpers: string list }

/// The pipelined GEMM's copies and fragment loads: `Declare name` declares the block's dynamic shared memory as a float
/// array; `Copy(dst, src)` queues the copy of one float from global to shared memory; `Commit()` closes the group of copies
/// queued since the last; `Wait n` returns once at most the newest n groups are still in flight (the older ones have landed
/// for this thread; a barrier then shows them to the block); `LoadMatrix(r, p)` is ldmatrix .x4 read as 32-bit values: lane
/// 8q + i gives in p the address of row i of matrix q (4 floats, 16-byte aligned) and receives in r[q] row lane / 4, float
/// lane % 4 of matrix q: for a K-contiguous slice exactly the A and B fragments of mma.m16n8k8 with .tf32 (ldmatrix's .trans
/// transposes 16-bit halves, not 32-bit values, so an M- or N-contiguous slice cannot use it).
type AsyncCopyOps =
    { Declare: string -> string
      Copy: string
      Commit: string
      Wait: int -> string
      LoadMatrix: string
      Helpers: string list }

type Dialect =
    { Name: string
      /// Opens a kernel function, given its fixed work-group size (x, y, z), up to and including the return type.
      KernelPrefix: int * int * int -> string
      /// Opens a helper function callable from kernels, up to the return type.
      FunctionPrefix: string
      /// Address space of buffer pointers, in parameters and in the body ("" where pointers are flat).
      Global: string
      /// Declares an array in work-group (shared) memory.
      Local: string
      /// Waits for every item of the work-group and makes its local-memory writes visible.
      Barrier: string
      LocalId: int -> string
      GroupId: int -> string
      /// Unsigned 64-bit integer type and a literal of it.
      ULong: string
      ULongLiteral: uint64 -> string
      /// A float math function by its C99 root name: OpenCL overloads `exp`, CUDA needs `expf`.
      Math: string -> string
      /// Type of `width` floats; loads and stores vector `index` of a float pointer (index counts vectors).
      Vector: int -> string
      VectorLoad: int -> string -> string -> string
      VectorStore: int -> string -> string -> string -> string
      /// Tensor-core products, where the dialect has them.
      Tf32: TensorCoreOps option
      /// Asynchronous copies and fragment loads for the pipelined GEMM, where the dialect has them.
      AsyncCopy: AsyncCopyOps option }

let private axis d = [| "x"; "y"; "z" |][d]

/// OpenCL C 1.2: address-space qualifiers on every pointer, a required work-group size so the
/// compiler can size local arrays and unroll, and vloadN/vstoreN which need only float alignment.
let opencl =
    { Name = "OpenCL C 1.2"
      KernelPrefix = fun (x, y, z) -> sprintf "__kernel __attribute__((reqd_work_group_size(%d, %d, %d))) void" x y z
      FunctionPrefix = "static inline"
      Global = "__global "
      Local = "__local"
      Barrier = "barrier(CLK_LOCAL_MEM_FENCE);"
      LocalId = sprintf "(int)get_local_id(%d)"
      GroupId = sprintf "(int)get_group_id(%d)"
      ULong = "ulong"
      ULongLiteral = sprintf "0x%XUL"
      Math = id
      Vector = sprintf "float%d"
      VectorLoad = fun w p i -> sprintf "vload%d(%s, %s)" w i p
      VectorStore = fun w p i v -> sprintf "vstore%d(%s, %s, %s);" w v i p
      Tf32 = None
      AsyncCopy = None }

/// PTX's cvt.rna.tf32.f32 and mma.sync m16n8k8 (compute capability 8.0 and above), through inline assembly. A host
/// compiler (no __CUDA_ARCH__) calls emulations instead: the tests run generated kernels on the CPU with them.
let private cudaTensorCores =
    { Round = "dsl_tf32"
      Mma = "dsl_mma_tf32"
      Helpers =
        [ """
__device__ static inline float dsl_tf32(float x)
{
#ifdef __CUDA_ARCH__
    unsigned r;
    asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(x));
    return __uint_as_float(r);
#else
    return dsl_emulated_tf32(x);
#endif
}

__device__ static inline void dsl_mma_tf32(float* d, const float* a, const float* b)
{
#ifdef __CUDA_ARCH__
    asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(__float_as_uint(a[0])), "r"(__float_as_uint(a[1])), "r"(__float_as_uint(a[2])), "r"(__float_as_uint(a[3])),
          "r"(__float_as_uint(b[0])), "r"(__float_as_uint(b[1])));
#else
    dsl_emulated_mma_tf32(d, a, b);
#endif
}
""".Trim() ] }

/// cp.async (4 bytes, through L1: .cg copies only 16, which a convolution's window rarely gives), its groups, and ldmatrix
/// (compute capability 8.0 and above). The "memory" clobbers keep the compiler from moving shared-memory accesses across
/// them. A host compiler calls emulations, as for the tensor cores; the emulated copies land only when a wait asks for them.
let private cudaAsyncCopy =
    { Declare = sprintf "DSL_DYNAMIC_SHARED(%s);"
      Copy = "dsl_cp_async"
      Commit = "dsl_cp_async_commit"
      Wait = sprintf "dsl_cp_async_wait(%d);"
      LoadMatrix = "dsl_ldmatrix_x4"
      Helpers =
        [ """
#ifdef __CUDA_ARCH__
#define DSL_DYNAMIC_SHARED(name) extern __shared__ __align__(16) float name[]
#define dsl_cp_async_wait(n) asm volatile("cp.async.wait_group %0;" :: "n"(n) : "memory")
#else
#define DSL_DYNAMIC_SHARED(name) float* const name = dsl_emulated_dynamic_shared()
#define dsl_cp_async_wait(n) dsl_emulated_cp_async_wait(n)
#endif

__device__ static inline void dsl_cp_async(float* dst, const float* src)
{
#ifdef __CUDA_ARCH__
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4;" :: "r"((unsigned)__cvta_generic_to_shared(dst)), "l"(src) : "memory");
#else
    dsl_emulated_cp_async(dst, src);
#endif
}

__device__ static inline void dsl_cp_async_commit()
{
#ifdef __CUDA_ARCH__
    asm volatile("cp.async.commit_group;" ::: "memory");
#else
    dsl_emulated_cp_async_commit();
#endif
}

__device__ static inline void dsl_ldmatrix_x4(float* r, const float* p)
{
#ifdef __CUDA_ARCH__
    unsigned r0, r1, r2, r3;
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];"
        : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3) : "r"((unsigned)__cvta_generic_to_shared(p)) : "memory");
    r[0] = __uint_as_float(r0);
    r[1] = __uint_as_float(r1);
    r[2] = __uint_as_float(r2);
    r[3] = __uint_as_float(r3);
#else
    dsl_emulated_ldmatrix_x4(r, p);
#endif
}
""".Trim() ] }

/// CUDA C++ as NVRTC compiles it: unmangled names so the driver finds kernels by name, launch bounds from
/// the block size, flat pointers; floatN accesses need N-float alignment, which the renderer checks.
let cuda =
    { Name = "CUDA C"
      KernelPrefix = fun (x, y, z) -> sprintf "extern \"C\" __global__ void __launch_bounds__(%d)" (x * y * z)
      FunctionPrefix = "__device__ static inline"
      Global = ""
      Local = "__shared__"
      Barrier = "__syncthreads();"
      LocalId = fun d -> sprintf "(int)threadIdx.%s" (axis d)
      GroupId = fun d -> sprintf "(int)blockIdx.%s" (axis d)
      ULong = "unsigned long long"
      ULongLiteral = sprintf "0x%XULL"
      Math = fun f -> f + "f"
      Vector = sprintf "float%d"
      VectorLoad = fun w p i -> sprintf "((const float%d*)(%s))[%s]" w p i
      VectorStore = fun w p i v -> sprintf "((float%d*)(%s))[%s] = %s;" w p i v
      Tf32 = Some cudaTensorCores
      AsyncCopy = Some cudaAsyncCopy }
