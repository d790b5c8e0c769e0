using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Dsl.Runtime.Diagnosis;

namespace Dsl.Runtime.Output;

/// <summary>report.html: one self-contained page per run folder (pictures embedded as base64, no script, no external file)
/// with the summary, the settings, the curves, the confusion matrix, the filters, the per-layer statistics as small
/// inline SVG plots, the per-class figures and the diagnosis. Built from the folder's files alone, so `dsl doctor`
/// can write it for any run folder, old ones included.</summary>
public static class RunReport
{
    public const string Name = "report.html";

    /// <summary>Writes report.html into <paramref name="runDir"/> and returns its path.</summary>
    public static string Write(string runDir)
    {
        var run = RunHistory.Load(runDir);
        var verdict = Doctor.Diagnose(run);
        var path = Path.Combine(runDir, Name);
        File.WriteAllText(path, Html(runDir, run, verdict));
        return path;
    }

    static string E(string s) => WebUtility.HtmlEncode(s);
    static string G(double v) => double.IsFinite(v) ? v.ToString("G4", CultureInfo.InvariantCulture) : "-";
    static string Pct(double v) => double.IsFinite(v) ? (100 * v).ToString("0.00", CultureInfo.InvariantCulture) + "%" : "-";

    static string Html(string dir, RunHistory run, Verdict verdict)
    {
        var model = Path.Combine(dir, "model.model");
        string title = File.Exists(model) ? File.ReadLines(model).Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith("network "), "network ?")[8..] : Path.GetFileName(Path.GetFullPath(dir));
        var h = new StringBuilder();
        h.Append($"""
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>dsl run: {E(title)}</title>
            <style>
            body {"{"} font-family: sans-serif; margin: 2em auto; max-width: 1100px; color: #222; {"}"}
            table {"{"} border-collapse: collapse; margin: 0.5em 0; {"}"}
            td, th {"{"} border: 1px solid #ccc; padding: 2px 8px; text-align: right; {"}"}
            th:first-child, td:first-child {"{"} text-align: left; {"}"}
            pre {"{"} background: #f6f6f6; padding: 0.7em; overflow-x: auto; {"}"}
            .finding {"{"} border-left: 4px solid #c60; padding: 0.2em 0.8em; margin: 0.6em 0; background: #fff8f0; {"}"}
            .healthy {"{"} border-left: 4px solid #393; padding: 0.2em 0.8em; background: #f3fbf3; {"}"}
            .plots {"{"} display: flex; flex-wrap: wrap; gap: 1em; {"}"}
            img {"{"} max-width: 100%; border: 1px solid #ddd; {"}"}
            </style></head><body>
            <h1>Run report: {E(title)}</h1>
            <p>Run folder <code>{E(Path.GetFullPath(dir))}</code>, written {DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture)} UTC.</p>
            """);
        Diagnosis(h, verdict);
        Summary(h, run);
        Settings(h, dir, run);
        h.Append("<h2>Curves</h2>");
        Picture(h, dir, "curves.png", "loss and accuracy per epoch");
        LayerPlots(h, run);
        Classes(h, run);
        h.Append("<h2>Confusion matrix (test set)</h2>");
        Picture(h, dir, "confusion.png", "confusion matrix");
        h.Append("<h2>First layer's filters</h2>");
        Picture(h, dir, "filters.png", "filters of the first convolution");
        h.Append("</body></html>\n");
        return h.ToString();
    }

    static void Diagnosis(StringBuilder h, Verdict v)
    {
        h.Append("<h2>Diagnosis</h2>");
        foreach (var f in v.Findings)
        {
            h.Append($"<div class=\"finding\"><p><b>{E(f.Kind)}</b>: {E(f.Summary)}</p><ul>");
            foreach (var e in f.Evidence) h.Append($"<li>{E(e)}</li>");
            h.Append($"</ul><p>Change: {E(f.Change)}</p></div>");
        }
        if (v.Findings.Count == 0)
        {
            h.Append($"<div class=\"healthy\"><p><b>{(v.CannotJudge.Count == 0 ? "The run looks healthy." : "No finding in what could be judged.")}</b></p><ul>");
            foreach (var line in v.Healthy) h.Append($"<li>{E(line)}</li>");
            h.Append("</ul></div>");
        }
        foreach (var c in v.CannotJudge) h.Append($"<p>Cannot judge {E(c)}.</p>");
    }

    static void Summary(StringBuilder h, RunHistory run)
    {
        h.Append("<h2>Summary</h2><table><tr><th>epoch</th><th>train loss</th><th>train accuracy</th><th>val loss</th><th>val accuracy</th><th>learning rate</th></tr>");
        foreach (var e in run.Epochs)
            h.Append($"<tr><td>{e.Epoch}</td><td>{G(e.TrainLoss)}</td><td>{Pct(e.TrainAccuracy)}</td><td>{G(e.ValLoss)}</td><td>{Pct(e.ValAccuracy)}</td><td>{G(e.LearningRate)}</td></tr>");
        h.Append("</table>");
        var test = run.Stats?.LastOrDefault(r => r.Statistic == "test_accuracy");
        if (test is not null)
            h.Append($"<p>Test set: accuracy <b>{Pct(test.Value)}</b>, loss {G(run.Stats!.Last(r => r.Statistic == "test_loss").Value)}.</p>");
    }

    static void Settings(StringBuilder h, string dir, RunHistory run)
    {
        h.Append("<h2>Settings</h2>");
        var settings = run.Stats?.Where(r => r.Subject == "run" && r.Step == 0).ToList() ?? [];
        if (settings.Count > 0)
            h.Append("<table>" + string.Concat(settings.Select(s =>
                $"<tr><td>{E(s.Statistic.Replace('_', ' '))}</td><td>{(RunStatistics.FlagSettings.Contains(s.Statistic) ? (s.Value != 0 ? "yes" : "no") : G(s.Value))}</td></tr>")) + "</table>");
        var runJson = Path.Combine(dir, "run.json");
        if (File.Exists(runJson))
        {
            try
            {
                using var doc = JsonDocument.Parse(File.ReadAllText(runJson));
                // run.json keeps what `dsl run` was given: shown as the command that would repeat it.
                var options = doc.RootElement.EnumerateObject()
                    .Where(p => p.Name is not "File" and not "Resume" && p.Value.ValueKind is JsonValueKind.String or JsonValueKind.Number)
                    .Select(p => $" --{p.Name.ToLowerInvariant()} {p.Value}");
                var file = doc.RootElement.TryGetProperty("File", out var f) ? " " + f : "";
                h.Append("<p>Command: <code>" + E("dsl run" + file + string.Concat(options)) + "</code></p>");
            }
            catch (JsonException) { h.Append("<p>run.json is not readable JSON.</p>"); }
        }
        var model = Path.Combine(dir, "model.model");
        if (File.Exists(model)) h.Append($"<p>Model file:</p><pre>{E(File.ReadAllText(model))}</pre>");
    }

    static void Picture(StringBuilder h, string dir, string file, string alt)
    {
        var path = Path.Combine(dir, file);
        if (File.Exists(path)) h.Append($"<p><img alt=\"{E(alt)}\" src=\"data:image/png;base64,{Convert.ToBase64String(File.ReadAllBytes(path))}\"></p>");
        else h.Append($"<p>No {E(file)} in this run folder.</p>");
    }

    static void LayerPlots(StringBuilder h, RunHistory run)
    {
        if (run.Stats is null) return;
        h.Append("<h2>Per-layer statistics</h2><div class=\"plots\">");
        var loss = run.Stats.Where(r => r.Subject == "run" && r.Statistic == "loss" && double.IsFinite(r.Value)).ToList();
        if (loss.Count > 1) h.Append(MiniPlot.Svg("step loss", [("loss", loss.Select(r => ((double)r.Step, r.Value)).ToList())], log: false, xLabel: "update"));
        foreach (var (stat, log) in new[] { ("weight_norm", false), ("grad_norm", true), ("update_ratio", true), ("dead_fraction", false) })
        {
            var series = run.Stats.Where(r => r.Statistic == stat).GroupBy(r => r.Subject)
                .Select(g => (g.Key, g.Select(r => ((double)r.Epoch, r.Value)).ToList())).ToList();
            if (series.Count > 0) h.Append(MiniPlot.Svg(stat.Replace('_', ' '), series, log, xLabel: "epoch"));
        }
        h.Append("</div>");
    }

    static void Classes(StringBuilder h, RunHistory run)
    {
        var counts = run.Stats?.Where(r => r.Statistic == "train_count").ToList() ?? [];
        if (counts.Count == 0) return;
        var recall = run.Latest("val_recall").ToDictionary(r => r.Subject, r => r.Value);
        h.Append("<h2>Classes</h2><table><tr><th>class</th><th>training images</th><th>validation recall (last epoch)</th></tr>");
        foreach (var c in counts)
            h.Append($"<tr><td>{E(c.Subject[6..])}</td><td>{c.Value:0}</td><td>{(recall.TryGetValue(c.Subject, out var v) ? Pct(v) : "-")}</td></tr>");
        h.Append("</table>");
    }
}
