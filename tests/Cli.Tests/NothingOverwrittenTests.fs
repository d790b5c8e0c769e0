/// What `dsl export --onnx` and `dsl run --out` must never replace (a device, a FIFO, a link, a folder, a run's own
/// files, a finished run), and what a killed run leaves behind (a folder without settings, temporary files): each is
/// refused or cleaned up with a message, and what was there is byte for byte the same afterwards.
module Dsl.Cli.Tests.NothingOverwrittenTests

open System
open System.Diagnostics
open System.IO
open Expecto
open Dsl.Cli.Tests.RunDsl

let private noStackTrace (r: Result) = Expect.isFalse ((r.Out + r.Err).Contains "   at ") "a stack trace in the output"

let private tiny epochs =
    sprintf "network tiny\n  input 1 x 8 x 8\n  conv 4 kernel 3 |> relu\n  flatten\n  dense classes\n  softmax\ntrain\n  data synthetic 3\n  optimizer sgd lr 0.05 momentum 0.9\n  batch 32\n  epochs %d\n" epochs

let private exec (file: string) (args: string list) =
    let psi = ProcessStartInfo(file, RedirectStandardError = true, RedirectStandardOutput = true)
    args |> List.iter psi.ArgumentList.Add
    use p = Process.Start psi
    p.WaitForExit()
    p.ExitCode, p.StandardError.ReadToEnd()

/// A finished one-epoch run of the tiny model in a fresh folder.
let private finishedRun () =
    let file = tempModel (tiny 1)
    let out = Path.Combine(Path.GetDirectoryName file, "done")
    let r = dsl [ "run"; file; "--out"; out ]
    Expect.isTrue (r.Code = 0) (r.Out + r.Err)
    out

/// Every file of a folder with its bytes, to show nothing in it changed.
let private contents (dir: string) =
    Directory.GetFiles dir |> Array.sort |> Array.map (fun f -> Path.GetFileName f, File.ReadAllBytes f)

let private kindOf (path: string) = (Dsl.Runtime.Data.FileKinds.Stat(path, followLinks = false)).Kind

let ``export refuses a device, a FIFO, a link, a folder and the run's own files`` () =
    let run = finishedRun ()
    let dir = Directory.CreateTempSubdirectory("dsl-export-").FullName
    let device = Path.Combine(dir, "null")
    // A character device like /dev/null (1, 3): creating one needs root, elsewhere the case is left out.
    let hasDevice = fst (exec "mknod" [ device; "c"; "1"; "3" ]) = 0
    let fifo = Path.Combine(dir, "pipe.onnx")
    Expect.equal (fst (exec "mkfifo" [ fifo ])) 0 "mkfifo"
    let target = Path.Combine(dir, "target.onnx")
    File.WriteAllText(target, "a previous file a link leads to")
    let link = Path.Combine(dir, "link.onnx")
    File.CreateSymbolicLink(link, target) |> ignore
    let before = contents run
    let cases =
        [ if hasDevice then yield device, "it is not a regular file but a character device"
          yield fifo, "it is not a regular file but a FIFO"
          yield link, "it is a symbolic link"
          yield run, "it is a folder"
          yield Path.Combine(run, "weights.safetensors"), "it is the file being exported"
          yield Path.Combine(run, "metrics.csv"), "it is a file of the run folder"
          yield Path.Combine(run, "last.safetensors"), "it is a file of the run folder" ]
    for path, why in cases do
        // A FIFO opened for writing would block until a reader came: returning at all is part of the check.
        let r = dsl [ "export"; run; "--onnx"; path; "--force" ]
        Expect.equal r.Code 2 (sprintf "%s: %s%s" path r.Out r.Err)
        Expect.stringContains r.Err (sprintf "will not write the ONNX file to %s: %s" path why) "what dsl printed"
        noStackTrace r
    if hasDevice then Expect.equal (kindOf device) Dsl.Runtime.Data.FileKind.CharDevice "the device node"
    Expect.equal (kindOf fifo) Dsl.Runtime.Data.FileKind.Fifo "the FIFO"
    Expect.equal (kindOf link) Dsl.Runtime.Data.FileKind.Link "the link"
    Expect.equal (File.ReadAllText target) "a previous file a link leads to" "the link's target"
    Expect.equal (contents run) before "the run folder's files"
    Expect.isEmpty (Directory.GetFiles(dir, "*.tmp")) "temporary files left"

let ``export writes a new file, replaces a previous .onnx and needs --force for any other file`` () =
    let run = finishedRun ()
    let dir = Directory.CreateTempSubdirectory("dsl-export-").FullName
    let onnx = Path.Combine(run, "model.onnx")
    let first = dsl [ "export"; run; "--onnx"; onnx ]
    Expect.equal first.Code 0 (first.Out + first.Err)
    Expect.stringContains first.Out (sprintf "wrote %s: ONNX opset 13" onnx) "a new file"
    let again = dsl [ "export"; run; "--onnx"; onnx ]
    Expect.equal again.Code 0 (again.Out + again.Err)
    Expect.stringContains again.Out (sprintf "replaced %s" onnx) "a previous export, as torch.onnx.export does"
    let notes = Path.Combine(dir, "notes.txt")
    File.WriteAllText(notes, "mine")
    let refused = dsl [ "export"; run; "--onnx"; notes ]
    Expect.equal refused.Code 2 (refused.Out + refused.Err)
    Expect.stringContains refused.Err "pass --force to replace it" "what dsl printed"
    Expect.equal (File.ReadAllText notes) "mine" "the file without --force"
    let forced = dsl [ "export"; run; "--onnx"; notes; "--force" ]
    Expect.equal forced.Code 0 (forced.Out + forced.Err)
    Expect.equal (File.ReadAllBytes notes) (File.ReadAllBytes onnx) "the file with --force holds the export"
    Expect.isEmpty (Directory.GetFiles(dir, "*.tmp")) "temporary files left"

let ``run --out refuses a finished run, a link to one, a folder of other files and an empty name`` () =
    let run = finishedRun ()
    let file = tempModel (tiny 1)
    let link = Path.Combine(Path.GetDirectoryName file, "link")
    Directory.CreateSymbolicLink(link, run) |> ignore
    let other = Directory.CreateTempSubdirectory("dsl-other-").FullName
    File.WriteAllText(Path.Combine(other, "notes.txt"), "mine")
    let before = contents run
    for out, code, why in
        [ run, 1, sprintf "%s holds a finished run (weights.safetensors) and would be overwritten; give this run another --out" run
          link, 1, sprintf "%s holds a finished run" link
          other, 1, sprintf "%s is not empty (1 entry, such as notes.txt) and is not a run folder" other
          "", 2, "--out needs a folder name, got an empty one" ] do
        let r = dsl [ "run"; file; "--out"; out ]
        Expect.equal r.Code code (sprintf "--out %s: %s%s" out r.Out r.Err)
        Expect.stringContains r.Err why "what dsl printed"
        Expect.isFalse (r.Out.Contains "training tiny") "it started training"
        noStackTrace r
    Expect.equal (contents run) before "the finished run's files"
    Expect.equal (File.ReadAllText(Path.Combine(other, "notes.txt"))) "mine" "the other folder's file"
    Expect.equal (Directory.GetFiles other).Length 1 "the other folder's files"

let ``an unfinished run is refused as --out, pointing at --resume`` () =
    let file = tempModel (tiny 1)
    let out = Path.Combine(Path.GetDirectoryName file, "half")
    let r = dsl [ "run"; file; "--out"; out ]
    Expect.equal r.Code 0 (r.Out + r.Err)
    File.Delete(Path.Combine(out, "weights.safetensors"))
    let again = dsl [ "run"; file; "--out"; out ]
    Expect.equal again.Code 1 (again.Out + again.Err)
    Expect.stringContains again.Err (sprintf "%s holds an unfinished run; continue it with `dsl run --resume %s`" out out) "what dsl printed"

/// What a run killed in its first moment leaves: the folder, its lock (of a process that is gone), maybe its model
/// copy and a half-written temporary file. `--resume` says there is nothing to resume and how to start again; a new
/// run in the folder starts afresh and removes the temporary file, saying so.
let ``a folder left by a run killed before it wrote its settings is restartable`` () =
    let file = tempModel (tiny 1)
    let out = Path.Combine(Path.GetDirectoryName file, "killed")
    Directory.CreateDirectory out |> ignore
    // Process id 2^22 + 1 is above Linux's pid_max limit: no process has it.
    File.WriteAllText(Path.Combine(out, "run.lock"), "4194305 638000000000000000\n")
    File.WriteAllText(Path.Combine(out, "model.model"), tiny 1)
    let stale = Path.Combine(out, "last.safetensors.4194305.tmp")
    File.WriteAllBytes(stale, Array.zeroCreate 1_500_000)
    let resumed = dsl [ "run"; "--resume"; out ]
    Expect.equal resumed.Code 1 (resumed.Out + resumed.Err)
    Expect.stringContains resumed.Err (sprintf "%s has no run.json: the run that made it was stopped before it wrote its settings, so there is nothing to resume; start it afresh with `dsl run MODEL --out %s`" out out) "what dsl printed"
    let fresh = dsl [ "run"; file; "--out"; out ]
    Expect.equal fresh.Code 0 (fresh.Out + fresh.Err)
    Expect.stringContains fresh.Out (sprintf "removed %s (1.5 MB): a temporary file of a run stopped while it wrote it" stale) "what dsl printed"
    Expect.isFalse (File.Exists stale) "the stale temporary file"
    Expect.isTrue (File.Exists(Path.Combine(out, "weights.safetensors"))) "the new run's weights"

let ``a resumed run removes the temporary files of a run killed while checkpointing`` () =
    let file = tempModel (tiny 1)
    let out = Path.Combine(Path.GetDirectoryName file, "ckpt")
    let r = dsl [ "run"; file; "--out"; out ]
    Expect.equal r.Code 0 (r.Out + r.Err)
    let stale = Path.Combine(out, "last.safetensors.4194305.tmp")
    File.WriteAllBytes(stale, Array.zeroCreate 200_000)
    // A user's own file with a .tmp name that is not one of dsl's stays.
    let mine = Path.Combine(out, "notes.tmp")
    File.WriteAllText(mine, "mine")
    // So does one a live process is writing (a `dsl export` beside the run): process 1 is always alive.
    let live = Path.Combine(out, "model.onnx.1.tmp")
    File.WriteAllText(live, "being written")
    let resumed = dsl [ "run"; "--resume"; out; "--epochs"; "2" ]
    Expect.equal resumed.Code 0 (resumed.Out + resumed.Err)
    Expect.stringContains resumed.Out (sprintf "removed %s (0.2 MB)" stale) "what dsl printed"
    Expect.isFalse (File.Exists stale) "the stale temporary file"
    Expect.equal (File.ReadAllText mine) "mine" "a file dsl did not write"
    Expect.equal (File.ReadAllText live) "being written" "a live process's temporary file"

[<Tests>]
let tests =
    testList "NothingOverwrittenTests" [
        testCase "export refuses a device, a FIFO, a link, a folder and the run's own files" ``export refuses a device, a FIFO, a link, a folder and the run's own files``
        testCase "export writes a new file, replaces a previous .onnx and needs --force for any other file" ``export writes a new file, replaces a previous .onnx and needs --force for any other file``
        testCase "run --out refuses a finished run, a link to one, a folder of other files and an empty name" ``run --out refuses a finished run, a link to one, a folder of other files and an empty name``
        testCase "an unfinished run is refused as --out, pointing at --resume" ``an unfinished run is refused as --out, pointing at --resume``
        testCase "a folder left by a run killed before it wrote its settings is restartable" ``a folder left by a run killed before it wrote its settings is restartable``
        testCase "a resumed run removes the temporary files of a run killed while checkpointing" ``a resumed run removes the temporary files of a run killed while checkpointing``
    ]
