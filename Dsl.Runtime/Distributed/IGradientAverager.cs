namespace Dsl.Runtime.Distributed;

/// <summary>How the processes of a job average their gradients before each optimiser step: through host memory over MPI
/// (<see cref="GradientBuckets"/>, any device) or on the GPU (<see cref="NcclGradients"/>, CUDA with NCCL).</summary>
public interface IGradientAverager : IDisposable
{
    /// <summary>Where the averaging happens, for the run's log.</summary>
    string Route { get; }

    /// <summary>Replaces every trainable tensor's gradient by its mean over the processes.</summary>
    void Average();
}
