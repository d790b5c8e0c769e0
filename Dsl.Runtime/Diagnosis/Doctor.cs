using System.Globalization;

namespace Dsl.Runtime.Diagnosis;

/// <summary>Reads a run's history as a practitioner reads its curves and statistics, and says what it finds: a pure function
/// of metrics.csv and stats.csv. Thresholds are the rules of thumb of the literature (update ratios near 1e-3, Karpathy's
/// "A Recipe for Training Neural Networks"), kept loose so that each finding is clear when it fires.</summary>
public static class Doctor
{
    /// <summary>Epochs a judgement of trends needs.</summary>
    public const int TrendEpochs = 3;
    /// <summary>Validation loss this far above its minimum, while the training loss keeps falling, is overfitting.</summary>
    public const double OverfitRise = 0.05;
    /// <summary>A generalisation gap: training accuracy this far above validation accuracy at the end, with the validation
    /// loss <see cref="GapLossRatio"/> times the training loss, is overfitting even where the validation loss has not
    /// risen (a schedule that ends at a small learning rate freezes it near its minimum). The gap opened at the first
    /// epoch from which it stayed over half this.</summary>
    public const double GapAccuracy = 0.10, GapLossRatio = 1.5;
    /// <summary>Update-to-weight ratios per step, median over layers: healthy runs sit near 1e-3.</summary>
    public const double RatioTooHigh = 3e-2, RatioTooLow = 1e-4;
    /// <summary>A step loss this many times the first one means the updates threw the weights far off.</summary>
    public const double LossBlowUp = 10;
    /// <summary>A loss that moved less than this fraction over the run "barely moved".</summary>
    public const double BarelyMoving = 0.05;
    /// <summary>A layer with more than this fraction of units that passed no gradient for a whole batch is dying.</summary>
    public const double DeadFraction = 0.5;
    /// <summary>Orders of magnitude between the largest and smallest layer gradient norm that mean vanishing or exploding.</summary>
    public const double GradientOrders = 4;
    /// <summary>Both accuracies under this, and rising less than <see cref="FlatAccuracy"/> over the last epochs: underfitting.</summary>
    public const double LowAccuracy = 0.6, FlatAccuracy = 0.02;
    /// <summary>Epochs at the end without a 1% improvement of the validation loss that a schedule would have cut.</summary>
    public const int PlateauEpochs = 3;

    public static Verdict Diagnose(RunHistory run)
    {
        var findings = new List<Finding>();
        var cannot = new List<string>();
        var healthy = new List<string>();
        var epochs = run.Epochs.Where(e => double.IsFinite(e.TrainLoss)).ToList();
        bool hasVal = epochs.Count > 0 && epochs.All(e => double.IsFinite(e.ValLoss));

        var diverged = Divergence(run);
        if (diverged is not null) findings.Add(diverged);
        if (run.Stats is null)
            cannot.Add("the learning rate from update ratios, dead units, vanishing or exploding gradients, loss spikes or class imbalance: " +
                "this run folder has no stats.csv (written by a version of dsl before statistics were gathered); a new run gathers them");
        if (epochs.Count < TrendEpochs)
            cannot.Add($"overfitting, underfitting or plateaus: {epochs.Count} finished epoch{(epochs.Count == 1 ? "" : "s")}, trends need {TrendEpochs}");
        else if (!hasVal)
            cannot.Add("overfitting or plateaus: the run has no validation set (`data ... validation 0.1` keeps one)");

        var overfit = epochs.Count >= TrendEpochs && hasVal ? Overfitting(run, epochs) : null;
        if (overfit is not null) findings.Add(overfit);
        if (diverged is null && run.Stats is not null)
        {
            findings.AddRange(LearningRate(run, epochs));
            findings.AddRange(DeadUnits(run));
            if (Gradients(run) is { } g) findings.Add(g);
        }
        if (ClassBalance.Judge(run) is { } imbalance) findings.Add(imbalance);
        if (diverged is null && overfit is null && epochs.Count >= TrendEpochs)
        {
            if (Underfitting(run, epochs) is { } under) findings.Add(under);
            if (hasVal && Plateau(run, epochs) is { } plateau) findings.Add(plateau);
        }
        if (findings.Count == 0) healthy.AddRange(WhyHealthy(run, epochs, hasVal));
        return new Verdict(findings, cannot, healthy);
    }

    static string G(double v) => v.ToString("G3", CultureInfo.InvariantCulture);
    static string Pct(double v) => (100 * v).ToString("0.0", CultureInfo.InvariantCulture) + "%";
    static string Points(double v) => (100 * v).ToString("0.0", CultureInfo.InvariantCulture) + " points";

    static string LowerLr(RunHistory run, double factor) =>
        run.Setting("learning_rate") is double lr ? $"on the optimizer line, write `lr {G(lr / factor)}` (it is {G(lr)})" : $"on the optimizer line, divide `lr` by {G(factor)}";

    static Finding? Divergence(RunHistory run)
    {
        var bad = run.Stats?.FirstOrDefault(r => r.Subject == "run" && r.Statistic == "loss" && !double.IsFinite(r.Value));
        var badEpoch = run.Epochs.FirstOrDefault(e => !double.IsFinite(e.TrainLoss));
        if (bad is null && badEpoch is null) return null;
        int epoch = bad?.Epoch ?? badEpoch!.Epoch;
        var evidence = new List<string> { bad is not null ? $"the loss became {bad.Value.ToString(CultureInfo.InvariantCulture)} at update {bad.Step} (epoch {epoch})" : $"epoch {epoch}'s training loss is not finite" };
        var before = run.Stats?.Where(r => r.Subject == "run" && r.Statistic == "loss" && double.IsFinite(r.Value) && r.Step < (bad?.Step ?? long.MaxValue)).ToList();
        if (before is { Count: >= 2 })
            evidence.Add($"loss before it: {string.Join(", ", before.TakeLast(4).Select(r => G(r.Value)))} (first {G(before[0].Value)})");
        return new Finding("divergence", $"the loss became {(bad?.Value ?? badEpoch!.TrainLoss).ToString(CultureInfo.InvariantCulture)} at epoch {epoch}: training stopped. Lower the learning rate, or add batchnorm.",
            evidence, LowerLr(run, 10), epoch);
    }

    static Finding? Overfitting(RunHistory run, List<EpochRow> epochs)
    {
        var best = epochs.MinBy(e => e.ValLoss)!;
        var last = epochs[^1];
        bool rising = best != last && last.ValLoss > best.ValLoss * (1 + OverfitRise) && last.TrainLoss < best.TrainLoss;
        int? gapOpened = GapOpened(epochs);
        if (!rising && gapOpened is null) return null;
        // A rising validation loss dates it (the weights of its minimum are the best kept); a gap alone, from where it opened.
        int began = rising ? epochs[epochs.IndexOf(best) + 1].Epoch : gapOpened!.Value;
        var evidence = new List<string>
        {
            $"accuracy at epoch {last.Epoch}: training {Pct(last.TrainAccuracy)}, validation {Pct(last.ValAccuracy)} (gap {Points(last.TrainAccuracy - last.ValAccuracy)}" +
                (gapOpened is int g ? $", over {Points(GapAccuracy / 2)} since epoch {g})" : ")"),
            $"loss at epoch {last.Epoch}: training {G(last.TrainLoss)}, validation {G(last.ValLoss)} ({G(last.ValLoss / last.TrainLoss)} times)",
            $"validation loss lowest at epoch {best.Epoch} ({G(best.ValLoss)})" + (best == last ? "" : $", {G(last.ValLoss)} at epoch {last.Epoch} (+{Pct(last.ValLoss / best.ValLoss - 1)}); training loss meanwhile {G(best.TrainLoss)} -> {G(last.TrainLoss)}"),
        };
        var options = new List<string>();
        if (run.Setting("dropout") != 1) options.Add("add `|> dropout 0.5` after the activation of the largest dense layer");
        if (run.Setting("weight_decay") is null or 0) options.Add("add `weight-decay 5e-4` to the optimizer line");
        if (run.Setting("augment") != 1) options.Add("add `augment flip horizontal, translate 2` (where flips suit the images)");
        if (run.Setting("stop_early") != 1) options.Add($"add `stop-early monitor val-loss patience 2 restore-best` (or `epochs {best.Epoch}`)");
        double whole = run.Stats?.Where(r => r.Statistic == "set_count").Sum(r => r.Value) ?? 0;
        if (run.Setting("train_images") is double n && run.Setting("val_images") is double held && n + held < whole)
            options.Insert(0, $"train on all {whole - held:0} training images of the set (this run used {n:0}: drop `--limit`)");
        else if (run.Setting("train_images") is double m) options.Add($"train on more than {m:0} images");
        string summary = rising ? $"validation loss rising since epoch {began} while the training loss falls"
            : $"a generalisation gap since epoch {began}: training accuracy {Pct(last.TrainAccuracy)}, validation {Pct(last.ValAccuracy)}";
        return new Finding("overfitting", summary, evidence,
            string.Join("; or ", options.Take(2)) + (options.Count > 2 ? $" (also: {string.Join("; ", options.Skip(2))})" : ""), began);
    }

    /// <summary>Where the generalisation gap opened: the first epoch from which training accuracy stayed over half of
    /// <see cref="GapAccuracy"/> above validation accuracy, when the gap at the end is a full one; null otherwise.</summary>
    static int? GapOpened(List<EpochRow> epochs)
    {
        var last = epochs[^1];
        if (last.TrainAccuracy - last.ValAccuracy < GapAccuracy || last.ValLoss < GapLossRatio * last.TrainLoss) return null;
        int from = epochs.Count - 1;
        while (from > 0 && epochs[from - 1].TrainAccuracy - epochs[from - 1].ValAccuracy > GapAccuracy / 2) from--;
        return epochs[from].Epoch;
    }

    static double Median(IEnumerable<double> values)
    {
        var v = values.Where(double.IsFinite).Order().ToArray();
        return v.Length == 0 ? double.NaN : v.Length % 2 == 1 ? v[v.Length / 2] : (v[v.Length / 2 - 1] + v[v.Length / 2]) / 2;
    }

    static IEnumerable<Finding> LearningRate(RunHistory run, List<EpochRow> epochs)
    {
        var ratios = run.Latest("update_ratio");
        double ratio = Median(ratios.Select(r => r.Value));
        var losses = run.Stats!.Where(r => r.Subject == "run" && r.Statistic == "loss").Select(r => r.Value).ToList();
        string perLayer = string.Join(", ", ratios.Select(r => $"{r.Subject} {G(r.Value)}"));
        int spikes = Spikes(losses);
        double peak = losses.Count > 1 ? losses.Skip(1).Where(double.IsFinite).DefaultIfEmpty(0).Max() : 0;
        bool blownUp = losses.Count > 1 && peak > LossBlowUp * losses[0];
        if (ratio > RatioTooHigh || spikes >= 3 || blownUp)
        {
            var evidence = new List<string>();
            if (blownUp) evidence.Add($"the step loss reached {G(peak)}, {G(peak / losses[0])} times the first step's {G(losses[0])}");
            if (double.IsFinite(ratio)) evidence.Add($"update-to-weight ratio per step at epoch {ratios[0].Epoch}: median {G(ratio)} ({perLayer}); around 1e-3 is typical");
            if (spikes > 0) evidence.Add($"{spikes} loss spike{(spikes == 1 ? "" : "s")} (a step's loss over twice, and 0.5 above, the median of the ten before it)");
            yield return new Finding("learning rate too high", "the updates are large against the weights, and the loss jumps", evidence, LowerLr(run, blownUp ? 10 : 3));
        }
        else if (ratio < RatioTooLow && epochs.Count >= 1 && Math.Abs(epochs[^1].TrainLoss / epochs[0].TrainLoss - 1) < BarelyMoving)
        {
            yield return new Finding("learning rate too low", "the weights barely move, and neither does the loss",
                [$"update-to-weight ratio per step at epoch {ratios[0].Epoch}: median {G(ratio)} ({perLayer}); around 1e-3 is typical",
                 $"training loss {G(epochs[0].TrainLoss)} at epoch {epochs[0].Epoch}, {G(epochs[^1].TrainLoss)} at epoch {epochs[^1].Epoch}"],
                run.Setting("learning_rate") is double lr ? $"on the optimizer line, write `lr {G(lr * Math.Min(1000, 1e-3 / ratio))}` (it is {G(lr)})" : "raise `lr` on the optimizer line");
        }
    }

    /// <summary>Steps whose loss is over twice, and 0.5 above, the median of the ten recorded before it (after the first ten):
    /// the absolute margin keeps the noise of a nearly memorised set (0.03, then 0.07) from counting.</summary>
    public static int Spikes(IReadOnlyList<double> losses)
    {
        int spikes = 0;
        for (int i = 10; i < losses.Count; i++)
        {
            double median = Median(losses.Skip(i - 10).Take(10));
            if (losses[i] > 2 * median && losses[i] > median + 0.5) spikes++;
        }
        return spikes;
    }

    /// <summary>The last layer, in network order, where most units passed no gradient: no gradient reaches the layers before
    /// it through its silent units, so those are named in the evidence as following from it.</summary>
    static IEnumerable<Finding> DeadUnits(RunHistory run)
    {
        var rows = run.Latest("dead_fraction");
        var dead = rows.Where(r => r.Value > DeadFraction).ToList();
        if (dead.Count == 0) yield break;
        var r = dead[^1];
        var evidence = new List<string>
        {
            $"{r.Subject}: dead fraction {Pct(r.Value)} at epoch {r.Epoch} (units whose bias gradient was zero over every image of the epoch's last batch: a ReLU that never fired)",
            $"{r.Subject}'s gradient norm {G(run.Latest("grad_norm").FirstOrDefault(g => g.Subject == r.Subject)?.Value ?? double.NaN)}",
        };
        if (dead.Count > 1) evidence.Add($"before it, with little gradient reaching them through it: {string.Join(", ", dead.SkipLast(1).Select(d => $"{d.Subject} {Pct(d.Value)}"))}");
        yield return new Finding("dead units", $"{Pct(r.Value)} of {r.Subject}'s units passed no gradient over a whole batch", evidence,
            $"on {r.Subject}'s line, write `leaky-relu 0.01` for `relu` (a leaky unit keeps a gradient); if the units died after a good start, {LowerLr(run, 3)}", r.Epoch);
    }

    static Finding? Gradients(RunHistory run)
    {
        var norms = run.Latest("grad_norm").Where(r => r.Value > 0 && double.IsFinite(r.Value)).ToList();
        if (norms.Count < 2) return null;
        var small = norms.MinBy(r => r.Value)!;
        var large = norms.MaxBy(r => r.Value)!;
        double orders = Math.Log10(large.Value / small.Value);
        if (orders < GradientOrders) return null;
        bool vanishing = norms.IndexOf(small) < norms.IndexOf(large);
        return new Finding(vanishing ? "vanishing gradients" : "exploding gradients",
            $"gradient norms across layers span {orders:0.0} orders of magnitude",
            [string.Join(", ", norms.Select(r => $"{r.Subject} {G(r.Value)}")) + $" (epoch {norms[0].Epoch})"],
            run.Setting("batchnorm") == 1 ? "initialise with `init by-role` (the default) and check the activations; or add a skip around the deep part"
                : $"add `|> batchnorm` after the convolutions from {small.Subject} on (e.g. `conv 64 kernel 3 |> batchnorm |> relu`)", norms[0].Epoch);
    }

    static Finding? Underfitting(RunHistory run, List<EpochRow> epochs)
    {
        var last = epochs[^1];
        var mid = epochs[epochs.Count / 2];
        double val = double.IsFinite(last.ValAccuracy) ? last.ValAccuracy : last.TrainAccuracy;
        if (last.TrainAccuracy >= LowAccuracy || val >= LowAccuracy || last.TrainAccuracy - mid.TrainAccuracy >= FlatAccuracy) return null;
        return new Finding("underfitting", "training and validation accuracy are both low and flat",
            [$"accuracy at epoch {last.Epoch}: training {Pct(last.TrainAccuracy)}, validation {Pct(val)}; training {Pct(mid.TrainAccuracy)} at epoch {mid.Epoch}"],
            "make the network larger (more filters, or another `conv ... |> relu` block) or train longer (`epochs`); check the learning-rate finding if there is one");
    }

    static Finding? Plateau(RunHistory run, List<EpochRow> epochs)
    {
        if (run.Setting("schedule") == 1 || epochs.Count < PlateauEpochs + 1) return null;
        var before = epochs[..^PlateauEpochs];
        double best = before.Min(e => e.ValLoss);
        if (epochs[^PlateauEpochs..].Min(e => e.ValLoss) < best * 0.99) return null;
        return new Finding("plateau", $"the validation loss has not improved for the last {PlateauEpochs} epochs at a constant learning rate",
            [$"best validation loss {G(best)} by epoch {before.MinBy(e => e.ValLoss)!.Epoch}; epochs {epochs[^PlateauEpochs].Epoch}-{epochs[^1].Epoch}: {string.Join(", ", epochs[^PlateauEpochs..].Select(e => G(e.ValLoss)))}"],
            "add `schedule reduce-on-plateau monitor val-loss factor 0.1 patience 2` to the train block", epochs[^PlateauEpochs].Epoch);
    }

    static IEnumerable<string> WhyHealthy(RunHistory run, List<EpochRow> epochs, bool hasVal)
    {
        if (epochs.Count > 0)
        {
            var first = epochs[0];
            var last = epochs[^1];
            yield return $"training loss {G(first.TrainLoss)} -> {G(last.TrainLoss)} over epochs {first.Epoch}-{last.Epoch}" +
                (hasVal ? $"; validation loss {G(first.ValLoss)} -> {G(last.ValLoss)}, accuracy training {Pct(last.TrainAccuracy)}, validation {Pct(last.ValAccuracy)}" : "");
        }
        if (run.Stats is null) yield break;
        var ratios = run.Latest("update_ratio");
        if (ratios.Count > 0) yield return $"update-to-weight ratios {G(ratios.Min(r => r.Value))}-{G(ratios.Max(r => r.Value))} per step (around 1e-3 is typical)";
        var dead = run.Latest("dead_fraction");
        if (ClassBalance.WhyNoFinding(run) is string balance) yield return balance;
        if (dead.Count > 0) yield return $"no layer with most units dead (largest: {dead.MaxBy(r => r.Value)!.Subject} {Pct(dead.Max(r => r.Value))})";
        var norms = run.Latest("grad_norm").Where(r => r.Value > 0).ToList();
        if (norms.Count > 1) yield return $"gradient norms within {Math.Log10(norms.Max(r => r.Value) / norms.Min(r => r.Value)):0.0} orders of magnitude across layers";
    }
}
