namespace Dsl.Runtime.Distributed;

/// <summary>A thread of its own that runs posted collectives one after another, in the order they were posted, while the
/// posting thread goes on computing. The posting thread may call a collective itself (<see cref="Turn"/>) once every
/// posted one has finished, so at most one thread is inside MPI at any time (MPI_THREAD_SERIALIZED) and every process
/// starts its collectives in the same order, which MPI requires. The first failure of a posted collective stops the
/// thread and is thrown by the next <see cref="Post"/>, <see cref="Turn"/> or <see cref="WaitIdle"/>: a waiting process
/// never hangs on a thread that gave up.</summary>
public sealed class CommThread : IDisposable
{
    readonly Thread thread;
    readonly Queue<Action> queue = new();
    readonly object gate = new();
    bool busy, closed;
    Exception? failure;

    public CommThread()
    {
        // Background: a process that fails while a collective waits for a peer that has gone must still be able to exit.
        thread = new Thread(Loop) { IsBackground = true, Name = "dsl allreduce" };
        thread.Start();
    }

    /// <summary>Queues <paramref name="collective"/> to run on this thread after those posted before it.</summary>
    public void Post(Action collective)
    {
        lock (gate)
        {
            Throw();
            queue.Enqueue(collective);
            Monitor.PulseAll(gate);
        }
    }

    /// <summary>Waits until every posted collective has finished; throws the reason one failed.</summary>
    public void WaitIdle()
    {
        lock (gate) WaitIdleLocked();
    }

    /// <summary>Lets the calling thread call MPI itself until the returned turn is disposed: waits for the posted
    /// collectives first, and keeps this thread out meanwhile.</summary>
    public Lease Turn()
    {
        lock (gate)
        {
            WaitIdleLocked();
            busy = true;
        }
        return new Lease(this);
    }

    public readonly struct Lease(CommThread owner) : IDisposable
    {
        public void Dispose() => owner.Release();
    }

    void Release()
    {
        lock (gate)
        {
            busy = false;
            Monitor.PulseAll(gate);
        }
    }

    void WaitIdleLocked()
    {
        while (busy || queue.Count > 0)
        {
            Throw();
            Monitor.Wait(gate);
        }
        Throw();
    }

    void Throw()
    {
        if (failure is not null) throw new DistributedException(failure.Message, failure);
        ObjectDisposedException.ThrowIf(closed, this);
    }

    void Loop()
    {
        while (true)
        {
            Action next;
            lock (gate)
            {
                while (!closed && (busy || queue.Count == 0)) Monitor.Wait(gate);
                if (closed) return;
                next = queue.Dequeue();
                busy = true;
            }
            try { next(); }
            catch (Exception e)
            {
                lock (gate)
                {
                    failure = e;
                    queue.Clear();
                }
            }
            lock (gate)
            {
                busy = false;
                Monitor.PulseAll(gate);
                if (failure is not null) return;
            }
        }
    }

    /// <summary>Stops the thread once it is idle. A thread still inside a collective (its process failed while a peer was
    /// awaited) is left to end with the process: joining it could wait for ever.</summary>
    public void Dispose()
    {
        bool idle;
        lock (gate)
        {
            if (closed) return;
            idle = !busy;
            closed = true;
            queue.Clear();
            Monitor.PulseAll(gate);
        }
        if (idle) thread.Join();
    }
}
