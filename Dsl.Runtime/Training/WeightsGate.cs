namespace Dsl.Runtime;

/// <summary>One network's weights, read by any number of predictions at once and changed by one writer alone (a
/// training step, a checkpoint or weights file loaded): a prediction sees the weights before or after a step, never
/// during one. Writers go first: a waiting step holds back new readers, so predictions cannot starve training.</summary>
sealed class WeightsGate : IDisposable
{
    // Recursive: a progress callback or a checkpoint write inside a step may read on the writing thread.
    readonly ReaderWriterLockSlim rw = new(LockRecursionPolicy.SupportsRecursion);

    public Held Reading()
    {
        rw.EnterReadLock();
        return new Held(rw, write: false);
    }

    public Held Writing()
    {
        rw.EnterWriteLock();
        return new Held(rw, write: true);
    }

    public void Dispose() => rw.Dispose();

    public readonly struct Held(ReaderWriterLockSlim rw, bool write) : IDisposable
    {
        public void Dispose()
        {
            if (write) rw.ExitWriteLock();
            else rw.ExitReadLock();
        }
    }
}
