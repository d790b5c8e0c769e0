/// What `dsl` prints about a network: the one-line check and the summary table.
module Dsl.Cli.Report

open Dsl.Core
open Dsl.Compiler
open Spectre.Console

let private n0 (v: int64) = v.ToString("N0", System.Globalization.CultureInfo.InvariantCulture)

let bytes (b: int64) =
    let units = [| "B"; "KiB"; "MiB"; "GiB"; "TiB" |]
    let rec go (v: float) i = if v >= 1024.0 && i < units.Length - 1 then go (v / 1024.0) (i + 1) else v, i
    let v, i = go (float b) 0
    if i = 0 then sprintf "%d B" b else sprintf "%.1f %s" v units[i]

let private describe (l: Layer) =
    let pairStr (a, b) = if a = b then string a else sprintf "%dx%d" a b
    match l with
    | Conv c ->
        sprintf "%d filters %s/%s%s%s" c.Filters (pairStr c.Kernel) (pairStr c.Stride)
            (if c.Pad <> (0, 0) then sprintf " pad %s" (pairStr c.Pad) else "") (if c.Groups > 1 then sprintf " groups %d" c.Groups else "")
    | Pool p -> sprintf "%s/%s%s" (pairStr p.Size) (pairStr p.Stride) (if p.Rounding = Ceil then " ceil" else "")
    | Lrn l -> sprintf "size %d alpha %g beta %g k %g" l.Size l.Alpha l.Beta l.K
    | Dense d -> sprintf "%d units" d.Units
    | Dropout r -> sprintf "rate %g" r
    | Act (LeakyRelu s) -> sprintf "slope %g" s
    | _ -> ""

let checkLine (inf: Shapes.Inferred) =
    let net = inf.Network
    sprintf "ok: %s, %d layers, input %O, output %O, %s parameters, %s multiply-adds per image"
        net.Name net.Nodes.Length net.Input (List.last inf.Layers).Output (n0 inf.TotalParams) (n0 inf.TotalMultiplyAdds)

/// The summary's columns for one layer: name, kind, output shape, parameters, multiply-adds (plain text).
let summaryColumns = [ "layer"; "kind"; "output"; "parameters"; "multiply-adds" ]

/// A layer as the summary's kind column shows it: `conv 256 filters 5/1 pad 2 groups 2`.
let kind (l: Layer) = (Layer.keyword l + " " + describe l).Trim()

let summaryRow (l: Shapes.LayerInfo) =
    let dash v = if v = 0L then "-" else n0 v
    [ l.Node.Name; kind l.Node.Layer; string l.Output; dash l.Params; dash l.MultiplyAdds ]

/// Past this many layers the table shows the first and last `shownAtEachEnd` and a line saying how many are left out:
/// a generated network of 99,000 layers printed 198,015 lines before its first epoch.
let private longTable = 60
let private shownAtEachEnd = 25

/// The Keras-style table: one row per layer with its output shape, parameters and multiply-adds; every row with `all`,
/// else a long network's first and last layers.
let summaryTable (all: bool) (inf: Shapes.Inferred) =
    let t = Table().Border(TableBorder.Simple).Title(TableTitle(sprintf "network %s" inf.Network.Name, Style.Plain))
    for h, right in List.zip (summaryColumns @ [ "line" ]) [ false; false; true; true; true; true ] do
        let c = TableColumn(h)
        t.AddColumn(if right then c.RightAligned() else c) |> ignore
    t.AddRow("input", "", string inf.Network.Input, "", "", "") |> ignore
    let row (l: Shapes.LayerInfo) =
        let cells = summaryRow l @ [ (if l.Node.Pos.IsKnown then string l.Node.Pos.Line else "") ]
        t.AddRow(cells |> List.map Markup.Escape |> Array.ofList) |> ignore
    let layers = Array.ofList inf.Layers
    if all || layers.Length <= longTable then Array.iter row layers
    else
        Array.iter row layers[.. shownAtEachEnd - 1]
        t.AddRow(Markup.Escape(sprintf "... %s layers (`dsl summary --all` lists every one) ..." (n0 (int64 (layers.Length - 2 * shownAtEachEnd)))), "", "", "", "", "") |> ignore
        Array.iter row layers[layers.Length - shownAtEachEnd ..]
    t.AddEmptyRow().AddRow("total", "", "", n0 inf.TotalParams, n0 inf.TotalMultiplyAdds, "") |> ignore
    t

/// The memory plan of a training step at a batch size: what the device must hold.
let printMemory (inf: Shapes.Inferred) (batch: int) =
    let plan = MemoryPlan.compile PlanMode.Training batch inf
    let arena = 4L * plan.ArenaFloats
    let unplanned = plan.Buffers |> Array.filter (fun b -> plan.Offsets.ContainsKey b.Id) |> Array.sumBy (fun b -> 4L * b.Floats)
    printfn "training step at batch %d: %d kernels; activations, gradients and saved values %s in one arena (%s without reuse); with parameters and gradients %s"
        batch plan.Kernels.Length (bytes arena) (bytes unplanned) (bytes (MemoryPlan.deviceBytes plan))

let printSummary (all: bool) (inf: Shapes.Inferred) =
    AnsiConsole.Write(summaryTable all inf)
    printfn "parameters: %s (%s as float32)" (n0 inf.TotalParams) (bytes (4L * inf.TotalParams))
    printfn "multiply-adds per image (forward): %s" (n0 inf.TotalMultiplyAdds)
    printfn "peak activation per image (largest layer input + output): %s" (bytes inf.PeakActivationBytes)
    printfn "all activations per image (kept for training): %s" (bytes (inf.Layers |> List.sumBy (fun l -> l.ActivationBytes)))
