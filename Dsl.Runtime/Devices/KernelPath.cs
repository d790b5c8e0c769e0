namespace Dsl.Runtime;

/// <summary>Which kernels a CUDA GPU runs (`--kernels`): the C renderer's, compiled by NVRTC, or ILGPU's, compiled from C#
/// to PTX by ILGPU (the driver alone, no NVRTC). Auto takes NVRTC where libnvrtc loads, else ILGPU.</summary>
public enum KernelPath { Auto, Nvrtc, Ilgpu }
