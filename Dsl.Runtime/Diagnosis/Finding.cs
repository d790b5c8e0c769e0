namespace Dsl.Runtime.Diagnosis;

/// <summary>One thing the diagnosis found: what (<see cref="Kind"/>, e.g. "overfitting"), a one-line summary, the figures it
/// rests on, and one concrete change to the model file. <see cref="Epoch"/> is where it began, when that is known.</summary>
public sealed record Finding(string Kind, string Summary, IReadOnlyList<string> Evidence, string Change, int? Epoch = null);

/// <summary>The findings of a run, what could not be judged and why, and, with no finding, why the run looks healthy.</summary>
public sealed record Verdict(IReadOnlyList<Finding> Findings, IReadOnlyList<string> CannotJudge, IReadOnlyList<string> Healthy)
{
    /// <summary>The diagnosis as `dsl run` and `dsl doctor` print it.</summary>
    public IEnumerable<string> Lines()
    {
        if (Findings.Count == 0)
            yield return CannotJudge.Count == 0 ? "diagnosis: the run looks healthy" : "diagnosis: no finding in what could be judged";
        else yield return $"diagnosis: {Findings.Count} finding{(Findings.Count == 1 ? "" : "s")}";
        foreach (var f in Findings)
        {
            yield return $"- {f.Kind}: {f.Summary}";
            foreach (var e in f.Evidence) yield return $"    evidence: {e}";
            yield return $"    change: {f.Change}";
        }
        foreach (var h in Healthy) yield return $"- {h}";
        foreach (var c in CannotJudge) yield return $"- cannot judge {c}";
    }
}
