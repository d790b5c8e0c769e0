using System.Globalization;

namespace Dsl.Runtime.Diagnosis;

/// <summary>One line of metrics.csv.</summary>
public sealed record EpochRow(int Epoch, double TrainLoss, double TrainAccuracy, double ValLoss, double ValAccuracy, double LearningRate);

/// <summary>What a run folder holds for the diagnosis: metrics.csv, and stats.csv where the run was written by a version that
/// gathered statistics (<see cref="Stats"/> is null otherwise).</summary>
public sealed record RunHistory(IReadOnlyList<EpochRow> Epochs, IReadOnlyList<StatRow>? Stats)
{
    /// <summary>Reads a run folder; a folder without metrics.csv is an error that says what a run folder is.</summary>
    public static RunHistory Load(string runDir)
    {
        var metrics = Path.Combine(runDir, "metrics.csv");
        if (!File.Exists(metrics))
            throw new DataException($"{runDir} is not a run folder: it has no metrics.csv (`dsl run FILE` writes one into runs/NAME-TIME/)");
        var stats = Path.Combine(runDir, StatsFile.Name);
        return new RunHistory(ReadMetrics(metrics), File.Exists(stats) ? StatsFile.Read(stats) : null);
    }

    /// <summary>metrics.csv by its header's column names, so older files with fewer columns still read.</summary>
    public static List<EpochRow> ReadMetrics(string path)
    {
        var lines = File.ReadAllLines(path);
        if (lines.Length == 0) return [];
        var columns = lines[0].Split(',').Select((name, i) => (name, i)).ToDictionary(c => c.name.Trim(), c => c.i);
        if (!columns.ContainsKey("epoch") || !columns.ContainsKey("train_loss"))
            throw new DataException($"{path}:1: expected a header starting epoch,train_loss; got `{lines[0]}`");
        var rows = new List<EpochRow>();
        for (int n = 1; n < lines.Length; n++)
        {
            if (lines[n].Length == 0) continue;
            var f = lines[n].Split(',');
            double Get(string name) =>
                columns.TryGetValue(name, out var i) && i < f.Length && double.TryParse(f[i], NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : double.NaN;
            if (!int.TryParse(f[0], CultureInfo.InvariantCulture, out var epoch)) throw new DataException($"{path}:{n + 1}: `{lines[n]}` has no epoch number");
            rows.Add(new EpochRow(epoch, Get("train_loss"), Get("train_accuracy"), Get("val_loss"), Get("val_accuracy"), Get("learning_rate")));
        }
        return rows;
    }

    /// <summary>A run-level setting from stats.csv (learning_rate, dropout...); null where unknown.</summary>
    public double? Setting(string name) => Stats?.FirstOrDefault(r => r.Subject == "run" && r.Statistic == name && r.Step == 0)?.Value;

    /// <summary>The statistic's rows of the last epoch that measured it, by subject.</summary>
    public IReadOnlyList<StatRow> Latest(string statistic)
    {
        var rows = Stats?.Where(r => r.Statistic == statistic).ToList() ?? [];
        if (rows.Count == 0) return rows;
        int last = rows.Max(r => r.Epoch);
        return rows.Where(r => r.Epoch == last).ToList();
    }
}
