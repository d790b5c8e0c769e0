namespace Dsl.Runtime.Checks;

/// <summary>The devices the kernel harness checks against the CPU device, by the names `--device` takes.
/// A new backend joins the tests and `dsl selftest` by adding its name here.</summary>
public static class Backends
{
    public static IReadOnlyList<string> Names { get; } = ["opencl", "cuda"];

    /// <summary>Opens a backend, or says why it is absent.</summary>
    public static IDevice? TryOpen(string name, out string? absent)
    {
        absent = null;
        try { return Devices.Open(name); }
        catch (DeviceException e)
        {
            absent = e.Message;
            return null;
        }
    }
}
