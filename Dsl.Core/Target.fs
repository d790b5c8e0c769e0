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
      TensorCores: bool }

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
      TensorCores: bool }
