namespace Dsl.Cli

/// Calls back on the reporting thread (System.Progress posts to the thread pool, which would reorder lines).
type Progress<'T>(report: 'T -> unit) =
    static member Synchronous(report: 'T -> unit) = Progress<'T>(report) :> System.IProgress<'T>
    interface System.IProgress<'T> with
        member _.Report v = report v
