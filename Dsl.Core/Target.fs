namespace Dsl.Core

/// What sort of processor runs generated kernels: it decides how wide work-groups and tiles should be.
type TargetKind =
    | CpuTarget
    | GpuTarget
    | AcceleratorTarget

/// The device the compiler renders kernels for, as the runtime measured it. The compiler never touches
/// a device; it reads this record.
type Target =
    { Kind: TargetKind
      /// Most work-items one work-group (CUDA block) may hold.
      MaxWorkGroupSize: int
      /// Bytes of local (CUDA shared) memory one work-group may use.
      LocalMemoryBytes: int64
      /// Preferred float vector width (OpenCL CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT); 1 where scalar is best.
      VectorWidth: int
      /// Work-items that run in lock-step: a CUDA warp (32), an AMD wavefront (64); 1 where unknown.
      SubGroupWidth: int
      /// TF32 matrix instructions (mma.sync m16n8k8): CUDA devices of compute capability 8.0 and above.
      TensorCores: bool
      /// Asynchronous copies from global to shared memory (cp.async) and, for kernels that ask for it at launch, more
      /// shared memory per block than LocalMemoryBytes: CUDA devices of compute capability 8.0 and above.
      AsyncCopy: bool
      /// Bytes of shared memory one block may use when its kernel asks for them (CUDA's opt-in limit: 163 KiB on
      /// sm_80, 227 KiB on sm_90); LocalMemoryBytes where the device has no such thing.
      LocalMemoryOptInBytes: int64 }

/// Work-group and tile sizes of the generated kernels. The compiler chooses them from a Target
/// (Render.Tuning.choose); a caller may override any field.
type Tuning =
    { /// Work-items per group of the one-dimensional kernels (elementwise, pooling, LRN, reductions).
      WorkGroup: int
      /// Output rows and columns of C one GEMM work-group computes, and the depth of one step through K.
      TileM: int
      TileN: int
      TileK: int
      /// Outputs one work-item computes along M and N: a work-group holds (TileM/WorkM) x (TileN/WorkN) items.
      WorkM: int
      WorkN: int
      /// Floats one elementwise work-item handles at once through the dialect's vector type (1, 2 or 4).
      Vector: int
      /// GEMM products on tensor cores (inputs rounded to TF32, FP32 accumulation) instead of FP32 units: faster,
      /// and about 1e-3 relative error per product, like cuDNN's default on these GPUs.
      TensorCores: bool
      /// TileK-deep slices of A and B a GEMM work-group holds in local memory. 1: it loads a slice, then computes it
      /// (both dialects). 2 or more: while it computes one slice, the next Stages - 1 are being copied (cp.async) into
      /// the other stages of a ring in dynamic shared memory (CUDA, Target.AsyncCopy).
      Stages: int }
