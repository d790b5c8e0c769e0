using System.Collections.Concurrent;
using Dsl.Core;
using Dsl.Runtime.Cpu;

namespace Dsl.Runtime;

/// <summary>Inference runners of one plan over one set of parameters, lent one per call: a runner's activations and
/// prepared weights belong to the call that holds it, so calls on many threads never share scratch. On the CPU the pool
/// grows to the number of calls in flight (each runner prepares the weights again when their version moved); a GPU
/// device has one runner and one call at a time, as its queue and context are not shared between threads here.</summary>
sealed class RunnerPool : IDisposable
{
    readonly IDevice device;
    readonly ParameterSet parameters;
    readonly ConcurrentBag<IStepRunner> idle = new();
    readonly List<IStepRunner> all = new();
    readonly SemaphoreSlim? one;

    public RunnerPool(IDevice device, Plan plan, ParameterSet parameters)
    {
        (this.device, this.parameters, Plan) = (device, parameters, plan);
        one = device is CpuDevice ? null : new SemaphoreSlim(1);
        // The first runner now, so that a plan that does not fit fails here rather than at the first prediction.
        idle.Add(Made());
    }

    public Plan Plan { get; }

    /// <summary>A runner for this call alone; disposing the lease gives it back.</summary>
    public Lease Rent()
    {
        one?.Wait();
        try { return new Lease(this, idle.TryTake(out var runner) ? runner : Made()); }
        catch { one?.Release(); throw; }
    }

    IStepRunner Made()
    {
        var runner = device.Load(Plan, parameters);
        lock (all) all.Add(runner);
        return runner;
    }

    void Return(IStepRunner runner)
    {
        idle.Add(runner);
        one?.Release();
    }

    public void Dispose()
    {
        lock (all)
        {
            foreach (var runner in all) runner.Dispose();
            all.Clear();
        }
        one?.Dispose();
    }

    public readonly struct Lease(RunnerPool pool, IStepRunner runner) : IDisposable
    {
        public IStepRunner Runner => runner;
        public void Dispose() => pool.Return(runner);
    }
}
