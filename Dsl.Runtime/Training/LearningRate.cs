using Dsl.Core;

namespace Dsl.Runtime;

/// <summary>The learning rate epoch by epoch, as the train block's `schedule` says.</summary>
public sealed class LearningRate(double initialRate, Schedule schedule, int epochs)
{
    readonly double initial = initialRate;
    double plateauBest = double.PositiveInfinity;
    int plateauWait;

    public double Current { get; private set; } = initialRate;

    /// <summary>The plateau tracker's best value and wait, for checkpoints.</summary>
    public (double best, int wait) Plateau => (plateauBest, plateauWait);

    /// <summary>Continues from a checkpoint.</summary>
    public void Restore(double current, double best, int wait) => (Current, plateauBest, plateauWait) = (current, best, wait);

    /// <summary>The rate after <paramref name="epoch"/> epochs where the schedule depends on the run's length (cosine
    /// spans the run's epochs), else null. A resumed run with more epochs takes it: a finished cosine restored as it
    /// was would train every added epoch at its floor, min-lr (0 unless set).</summary>
    public double? LengthDependentRate(int epoch) => schedule is Schedule.Cosine c ? CosineAt(c, epoch) : null;

    double CosineAt(Schedule.Cosine c, int epoch) =>
        c.minLr + (initial - c.minLr) * 0.5 * (1 + Math.Cos(Math.PI * Math.Min(epoch, epochs) / epochs));

    /// <summary>Called after epoch <paramref name="epoch"/> (from 1) with the monitored value (lower is better); sets the next epoch's rate.</summary>
    public void EndEpoch(int epoch, double monitored)
    {
        switch (schedule)
        {
            case Schedule.StepDecay s:
                Current = initial * Math.Pow(s.factor, epoch / s.every);
                break;
            case Schedule.Exponential e:
                Current = initial * Math.Pow(e.gamma, epoch);
                break;
            case Schedule.Cosine c:
                Current = CosineAt(c, epoch);
                break;
            case Schedule.ReduceOnPlateau p:
                // As Keras and PyTorch: a value counts as better only when it improves on the best so far.
                if (monitored < plateauBest) { plateauBest = monitored; plateauWait = 0; }
                else if (++plateauWait > p.patience)
                {
                    Current = Math.Max(p.minLr, Current * p.factor);
                    plateauWait = 0;
                }
                break;
        }
    }
}
