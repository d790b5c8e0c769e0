using Dsl.Core;

namespace Dsl.Runtime;

/// <summary>A compute device: the CPU, an OpenCL device or a CUDA GPU. It owns every buffer it allocates
/// and frees them when disposed.</summary>
public interface IDevice : IDisposable
{
    /// <summary>What the device is, for people: "CPU (2 threads, AVX-512)".</summary>
    string Name { get; }

    /// <summary>Allocates a zeroed buffer of <paramref name="floats"/> 32-bit values.</summary>
    IDeviceBuffer Allocate(long floats, string name);

    /// <summary>Number of buffers allocated and not yet disposed (for leak checks).</summary>
    int LiveBuffers { get; }

    /// <summary>Bytes of the buffers allocated through this device and not yet disposed (each at least one float).</summary>
    long LiveBytes { get; }

    /// <summary>The most <see cref="LiveBytes"/> has been since the device opened or since <see cref="ResetPeak"/>:
    /// measured device memory, the analogue of PyTorch's torch.cuda.max_memory_allocated. Driver overheads (contexts,
    /// compiled kernels, allocation rounding) are not in it.</summary>
    long PeakBytes { get; }

    /// <summary>Sets <see cref="PeakBytes"/> back to <see cref="LiveBytes"/>, to measure what follows.</summary>
    void ResetPeak();

    /// <summary>Prepares a planned step to run on this device; parameters come from <paramref name="parameters"/>.</summary>
    IStepRunner Load(Plan plan, ParameterSet parameters);
}

/// <summary>Memory on a device.</summary>
public interface IDeviceBuffer : IDisposable
{
    string Name { get; }
    long Floats { get; }
    void Upload(ReadOnlySpan<float> source, long offset = 0);
    void Download(Span<float> destination, long offset = 0);
}

/// <summary>Runs one planned step (a batch) again and again over preallocated buffers.</summary>
public interface IStepRunner : IDisposable
{
    Plan Plan { get; }

    /// <summary>Copies a batch of images (N x C x H x W floats) and labels onto the device.</summary>
    void SetBatch(ReadOnlySpan<float> images, ReadOnlySpan<int> labels);

    /// <summary>Runs every kernel of the plan; returns the mean loss of the batch. <paramref name="step"/> seeds dropout.</summary>
    double Run(long step);

    /// <summary>Applies the optimiser to every trainable parameter from the gradients of the last <see cref="Run"/>;
    /// <paramref name="t"/> counts updates from 1 (Adam's bias correction).</summary>
    void Update(Optimizer optimizer, double learningRate, long t);

    /// <summary>Where this batch starts in a larger one (a data-parallel process's shard): dropout draws the masks the
    /// larger batch gives these samples. 0 unless set.</summary>
    long FirstSample { get; set; }

    /// <summary>When set, <see cref="Run"/> waits for each kernel and adds its time here, by kernel index in the plan.</summary>
    double[]? KernelSeconds { get; set; }

    /// <summary>Copies the batch's class probabilities (N x classes) to the host.</summary>
    void ReadProbabilities(Span<float> destination);
}
