using System.Globalization;

namespace Dsl.Runtime.Diagnosis;

/// <summary>One measurement of a run: <see cref="Subject"/> is "run", a layer (conv1) or "class NAME";
/// <see cref="Step"/> is the optimiser update it was taken after (0 before training).</summary>
public sealed record StatRow(int Epoch, long Step, string Subject, string Statistic, double Value);

/// <summary>stats.csv in a run folder: one measurement a line, in long form so new statistics need no new columns.
/// Statistics: run rows (settings, the decimated step loss `loss`), per layer `weight_norm`, `grad_norm`,
/// `update_ratio` and `dead_fraction`, per class `train_count`, `set_count`, `val_count` and `val_recall`.</summary>
public static class StatsFile
{
    public const string Name = "stats.csv";
    public const string Header = "epoch,step,subject,statistic,value";

    public static string Line(StatRow r) =>
        string.Join(",", r.Epoch.ToString(CultureInfo.InvariantCulture), r.Step.ToString(CultureInfo.InvariantCulture), Quote(r.Subject), r.Statistic,
            r.Value.ToString("R", CultureInfo.InvariantCulture));

    // Class names come from folder names and may hold commas or quotes.
    static string Quote(string s) => s.IndexOfAny([',', '"']) < 0 ? s : "\"" + s.Replace("\"", "\"\"") + "\"";

    /// <summary>The rows of a stats.csv; a line that does not parse is an error naming file and line.</summary>
    public static List<StatRow> Read(string path)
    {
        var rows = new List<StatRow>();
        int n = 0;
        foreach (var line in File.ReadLines(path))
        {
            if (n++ == 0 || line.Length == 0) continue;
            var f = Split(line);
            if (f.Count != 5 || !int.TryParse(f[0], CultureInfo.InvariantCulture, out var epoch) || !long.TryParse(f[1], CultureInfo.InvariantCulture, out var step)
                || !double.TryParse(f[4], NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
                throw new DataException($"{path}:{n}: expected {Header}, got `{line}`");
            rows.Add(new StatRow(epoch, step, f[2], f[3], value));
        }
        return rows;
    }

    static List<string> Split(string line)
    {
        var fields = new List<string>();
        var field = new System.Text.StringBuilder();
        bool quoted = false;
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (quoted)
            {
                if (c != '"') field.Append(c);
                else if (i + 1 < line.Length && line[i + 1] == '"') { field.Append('"'); i++; }
                else quoted = false;
            }
            else if (c == '"') quoted = true;
            else if (c == ',') { fields.Add(field.ToString()); field.Clear(); }
            else field.Append(c);
        }
        fields.Add(field.ToString());
        return fields;
    }

    /// <summary>Drops the rows after optimiser update <paramref name="step"/>, and the test rows: on resume they belong to
    /// work about to be redone.</summary>
    public static void KeepUpTo(string path, long step)
    {
        if (!File.Exists(path)) { File.WriteAllText(path, Header + "\n"); return; }
        var kept = Read(path).Where(r => r.Step <= step && !r.Statistic.StartsWith("test_")).Select(Line);
        File.WriteAllLines(path, kept.Prepend(Header));
    }
}
