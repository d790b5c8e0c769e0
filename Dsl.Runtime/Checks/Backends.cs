namespace Dsl.Runtime.Checks;

/// <summary>The devices the kernel harness checks against the CPU device, by the names `--device` takes.
/// A new backend joins the tests and `dsl selftest` by adding its name here.</summary>
public static class Backends
{
    /// <summary>CUDA twice: every kernel in plain FP32 at the FP32 tolerance, then with the products on TF32 tensor cores
    /// (where the GPU has them) at the TF32 tolerance. ilgpu-cpu: the ILGPU kernels on ILGPU's CPU accelerator, present
    /// everywhere.</summary>
    public static IReadOnlyList<string> Names { get; } = ["opencl", "cuda", "cuda-tf32", "ilgpu-cpu"];

    /// <summary>Opens a backend, or says why it is absent.</summary>
    public static IDevice? TryOpen(string name, out string? absent)
    {
        absent = null;
        IDevice? device = null;
        try
        {
            device = name switch
            {
                "cuda" => Devices.Open("cuda", precision: Precision.Fp32),
                "cuda-tf32" => Devices.Open("cuda"),
                _ => Devices.Open(name),
            };
            if (name == "cuda-tf32" && !Harness.OnTensorCores(device))
            {
                absent = $"{device.Name} has no TF32 tensor cores";
                device.Dispose();
                return null;
            }
            return device;
        }
        catch (DeviceException e)
        {
            device?.Dispose();
            absent = e.Message;
            return null;
        }
    }
}
