/// Bad input and faults at the command line: typos refused before any work, one run per folder, signals, full and
/// read-only disks, FIFOs. Each ends in a message and an exit code, never a stack trace, a hang or lost results.
module Dsl.Cli.Tests.ReliabilityTests

open System
open System.Diagnostics
open System.IO
open System.Threading
open Expecto
open Dsl.Cli.Tests.RunDsl

let private noStackTrace (r: Result) = Expect.isFalse ((r.Out + r.Err).Contains "   at ") "a stack trace in the output"

/// Synthetic data, a few thousand parameters: a run takes a second; `epochs` makes it as long as a test needs.
let private tiny epochs =
    sprintf "network tiny\n  input 1 x 8 x 8\n  conv 4 kernel 3 |> relu\n  flatten\n  dense classes\n  softmax\ntrain\n  data synthetic 3\n  optimizer sgd lr 0.05 momentum 0.9\n  batch 32\n  epochs %d\n" epochs

let private start (args: string list) =
    let psi = ProcessStartInfo("dotnet", WorkingDirectory = repoRoot, RedirectStandardOutput = true, RedirectStandardError = true)
    psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "dsl.dll"))
    args |> List.iter psi.ArgumentList.Add
    Process.Start psi

let private exec (file: string) (args: string list) =
    let psi = ProcessStartInfo(file, RedirectStandardError = true, RedirectStandardOutput = true)
    args |> List.iter psi.ArgumentList.Add
    use p = Process.Start psi
    p.WaitForExit()
    p.ExitCode, p.StandardError.ReadToEnd()

let ``typos and surplus arguments are usage errors before any work`` (line: string, expected: string) =
    let r = dsl (List.ofArray (line.Split ' '))
    Expect.equal (r.Code) (2) "r.Code"
    Expect.stringContains (r.Err) (expected) "what dsl printed"
    Expect.isFalse ((r.Out).Contains("training")) "what dsl printed"
    noStackTrace r

let ``sub-commands and top-level options pass the check`` () =
    for line in [ [ "--version" ]; [ "data"; "path"; "fashion-mnist" ] ] do
        let r = dsl line
        Expect.equal r.Code 0 (String.Join(" ", line) + ": " + r.Err)

let ``a run that fails before its first step leaves no folder behind`` () =
    let file = tempModel (tiny 1)
    let out = Path.Combine(Path.GetDirectoryName file, "never")
    let r = dsl [ "run"; file; "--out"; out; "--limit"; "10" ]
    Expect.equal (r.Code) (1) "r.Code"
    Expect.stringContains (r.Err) ("only 10 training images") "what dsl printed"
    Expect.isFalse (Directory.Exists out) ""
    let onFile = dsl [ "run"; file; "--out"; file ]
    Expect.equal (onFile.Code) (1) "onFile.Code"
    Expect.stringContains (onFile.Err) ("it is a file") "what dsl printed"
    noStackTrace onFile

let ``a second run on a folder is refused and SIGTERM stops the first with a checkpoint`` () =
    let file = tempModel (tiny 100000)
    let out = Path.Combine(Path.GetDirectoryName file, "shared")
    use first = start [ "run"; file; "--out"; out ]
    let firstOut = Text.StringBuilder()
    let epochDone = new ManualResetEventSlim()
    first.OutputDataReceived.Add(fun e -> if not (isNull e.Data) then (lock firstOut (fun () -> firstOut.AppendLine e.Data |> ignore); if e.Data.StartsWith "epoch" then epochDone.Set()))
    first.BeginOutputReadLine()
    Expect.isTrue (epochDone.Wait(TimeSpan.FromMinutes 3.0)) ("the first run did not finish an epoch")

    let second = dsl [ "run"; file; "--out"; out; "--epochs"; "1" ]
    Expect.equal (second.Code) (1) "second.Code"
    Expect.stringContains (second.Err) (sprintf "in use by another run (process %d" first.Id) "what dsl printed"
    noStackTrace second

    Expect.equal (fst (exec "kill" [ "-TERM"; string first.Id ])) (0) "fst (exec kill [ -TERM; string first"
    first.WaitForExit()
    let text = lock firstOut (fun () -> firstOut.ToString())
    Expect.isTrue ((first.ExitCode = 143)) (text + first.StandardError.ReadToEnd())
    // The signal lands within an epoch's steps or, the tiny model's epochs being short, between two epochs.
    Expect.isTrue (Text.RegularExpressions.Regex.IsMatch(text, "stopped: cancelled (at|before) epoch")) text
    Expect.stringContains (text) (sprintf "to continue: dsl run --resume %s" out) "what dsl printed"
    // The first run's files are whole and its own: one header in metrics.csv, a checkpoint that loads, no lock left.
    Expect.equal (File.ReadAllLines(Path.Combine(out, "metrics.csv")) |> Array.filter (fun l -> l.StartsWith "epoch,") |> Array.length) (1) "File.ReadAllLines(Path.Combine(out, met"
    Dsl.Runtime.SafeTensors.Read(Path.Combine(out, "last.safetensors")) |> ignore
    Expect.isFalse (File.Exists(Path.Combine(out, "run.lock"))) ""

/// A finished run of the tiny model, for eval and predict.
let private finishedRun () =
    let file = tempModel (tiny 1)
    let out = Path.Combine(Path.GetDirectoryName file, "done")
    let r = dsl [ "run"; file; "--out"; out ]
    Expect.isTrue ((r.Code = 0)) (r.Out + r.Err)
    out

let ``predict refuses a FIFO, a device and a folder at once`` () =
    let run = finishedRun ()
    let fifo = Path.Combine(run, "pipe.png")
    Expect.equal (fst (exec "mkfifo" [ fifo ])) (0) "fst (exec mkfifo [ fifo ])"
    // Opening the FIFO would block until a writer came: returning at all is the check.
    let r = dsl [ "predict"; run; fifo; "/dev/zero"; run ]
    Expect.equal (r.Code) (1) "r.Code"
    Expect.stringContains (r.Err) ("pipe.png: is not a regular file but a FIFO") "what dsl printed"
    Expect.stringContains (r.Err) ("/dev/zero: is not a regular file but a character device") "what dsl printed"
    Expect.stringContains (r.Err) (sprintf "%s: is a folder" run) "what dsl printed"
    noStackTrace r

/// Mounts a tmpfs of `size` at a new folder for the test's body (root only: elsewhere the test is skipped, saying why).
let private withTmpfs (size: string) (body: string -> unit) =
    let dir = Directory.CreateTempSubdirectory("dsl-tmpfs-").FullName
    let code, why = exec "mount" [ "-t"; "tmpfs"; "-o"; "size=" + size; "tmpfs"; dir ]
    if code <> 0 then skiptest (sprintf "cannot mount a small tmpfs (needs root): %s" why)
    try body dir
    finally exec "umount" [ "-l"; dir ] |> ignore

let private bigger epochs =
    // About 0.5 MB of weights, so the checkpoint (weights and momentum) is the largest file a run writes.
    sprintf "network bigger\n  input 1 x 16 x 16\n  flatten\n  dense 512 |> relu\n  dense classes\n  softmax\ntrain\n  data synthetic 3\n  optimizer sgd lr 0.01 momentum 0.9\n  batch 32\n  epochs %d\n" epochs

let ``a full disk fails the checkpoint cleanly and leaves the previous one whole`` () =
    withTmpfs "4m" (fun mnt ->
        let file = tempModel (bigger 1)
        let out = Path.Combine(mnt, "run")
        let r = dsl [ "run"; file; "--out"; out ]
        Expect.isTrue ((r.Code = 0)) (r.Out + r.Err)
        let checkpoint = Path.Combine(out, "last.safetensors")
        let before = File.ReadAllBytes checkpoint
        // Fill the disk to within 64 KiB: room for the lock and the metrics, none for a new checkpoint.
        let free = DriveInfo(mnt).AvailableFreeSpace
        File.WriteAllBytes(Path.Combine(mnt, "filler"), Array.zeroCreate (int (free - 65536L)))
        let resumed = dsl [ "run"; "--resume"; out; "--epochs"; "2" ]
        Expect.equal (resumed.Code) (1) "resumed.Code"
        Expect.stringContains (resumed.Err) (sprintf "cannot write %s: No space left on device; the previous file is left as it was" checkpoint) "what dsl printed"
        noStackTrace resumed
        Expect.equal (File.ReadAllBytes checkpoint) (before) "File.ReadAllBytes checkpoint"
        Expect.isEmpty (Directory.GetFiles(out, "*.tmp")) ""
        Expect.isFalse (File.Exists(Path.Combine(out, "run.lock"))) "run.lock left behind")

let ``a read-only run folder: run and resume refuse it, eval reports and only warns about the picture`` () =
    let run = finishedRun ()
    withTmpfs "8m" (fun mnt ->
        let copy = Path.Combine(mnt, "run")
        Directory.CreateDirectory copy |> ignore
        for f in Directory.GetFiles run do File.Copy(f, Path.Combine(copy, Path.GetFileName f))
        let before = File.ReadAllBytes(Path.Combine(copy, "last.safetensors"))
        Expect.equal (fst (exec "mount" [ "-o"; "remount,ro"; mnt ])) (0) "fst (exec mount [ -o; remount,ro; "
        let resumed = dsl [ "run"; "--resume"; copy; "--epochs"; "2" ]
        Expect.equal (resumed.Code) (1) "resumed.Code"
        Expect.stringContains (resumed.Err) (sprintf "cannot write in the run folder %s: Read-only file system" copy) "what dsl printed"
        noStackTrace resumed
        Expect.equal (File.ReadAllBytes(Path.Combine(copy, "last.safetensors"))) (before) "File.ReadAllBytes(Path.Combine(copy, la"
        let fresh = dsl [ "run"; tempModel (tiny 1); "--out"; Path.Combine(mnt, "new") ]
        Expect.equal (fresh.Code) (1) "fresh.Code"
        Expect.stringContains (fresh.Err) ("Read-only file system") "what dsl printed"
        noStackTrace fresh
        let e = dsl [ "eval"; copy ]
        Expect.equal (e.Code) (0) "e.Code"
        Expect.stringContains (e.Out) ("accuracy") "what dsl printed"
        Expect.stringContains (e.Err) (sprintf "warning: cannot write %s/" copy) "what dsl printed"
        Expect.stringContains (e.Err) ("Read-only file system") "what dsl printed"
        noStackTrace e)

let ``a symbolic-link loop in an image folder adds no images`` () =
    let root = Directory.CreateTempSubdirectory("dsl-loop-").FullName
    let png = File.ReadAllBytes(Path.Combine(repoRoot, "tests", "Dsl.Runtime.Tests", "Images", "data", "grey8.png"))
    for cls in [ "tshirt"; "sneaker" ] do
        let d = Directory.CreateDirectory(Path.Combine(root, cls)).FullName
        for i in 1 .. 20 do File.WriteAllBytes(Path.Combine(d, sprintf "%d.png" i), png)
    File.CreateSymbolicLink(Path.Combine(root, "tshirt", "up"), "..") |> ignore
    File.CreateSymbolicLink(Path.Combine(root, "sneaker", "me"), ".") |> ignore
    let file = tempModel (sprintf "network f\n  input 1 x 8 x 8\n  flatten\n  dense classes\n  softmax\ntrain\n  data folder \"%s\"\n  batch 8\n  epochs 1\n" root)
    let c = dsl [ "check"; file ]
    Expect.equal (c.Code) (0) "c.Code"
    Expect.stringContains (c.Out) ("output 2") "what dsl printed"
    let r = dsl [ "run"; file; "--out"; Path.Combine(root, "..", Path.GetFileName root + "-run") ]
    Expect.isTrue ((r.Code = 0)) (r.Out + r.Err)
    Expect.stringContains (r.Out) (sprintf "image folder %s: 2 classes, 40 images: sneaker 20, tshirt 20" root) "what dsl printed"
    Expect.stringContains (r.Err) ("a folder already read; not followed") "what dsl printed"

let ``an unreadable folder inside a class is listed, not silently dropped`` () =
    let root = Directory.CreateTempSubdirectory("dsl-unreadable-").FullName
    let png = File.ReadAllBytes(Path.Combine(repoRoot, "tests", "Dsl.Runtime.Tests", "Images", "data", "grey8.png"))
    for cls in [ "a"; "b" ] do
        let d = Directory.CreateDirectory(Path.Combine(root, "data", cls)).FullName
        for i in 1 .. 8 do File.WriteAllBytes(Path.Combine(d, sprintf "%d.png" i), png)
    let locked = Directory.CreateDirectory(Path.Combine(root, "data", "a", "locked")).FullName
    File.WriteAllBytes(Path.Combine(locked, "x.png"), png)
    let file = Path.Combine(root, "f.model")
    File.WriteAllText(file, sprintf "network f\n  input 1 x 8 x 8\n  flatten\n  dense classes\n  softmax\ntrain\n  data folder \"%s\"\n  batch 4\n  epochs 1\n" (Path.Combine(root, "data")))
    for d in Directory.GetDirectories(root, "*", SearchOption.AllDirectories) |> Array.append [| root |] do
        File.SetUnixFileMode(d, enum<UnixFileMode> 0o777)
    File.SetUnixFileMode(locked, UnixFileMode.None)
    // Root reads any folder whatever its mode: as root the run goes through setpriv without the capabilities that
    // override file modes. It stays root, so a checkout in a private home folder is still readable.
    let asRoot = Environment.UserName = "root"
    let psi = ProcessStartInfo((if asRoot then "setpriv" else "dotnet"), RedirectStandardOutput = true, RedirectStandardError = true)
    if asRoot then for a in [ "--bounding-set=-dac_override,-dac_read_search"; "dotnet" ] do psi.ArgumentList.Add a
    for a in [ Path.Combine(AppContext.BaseDirectory, "dsl.dll"); "run"; file; "--out"; Path.Combine(root, "run") ] do psi.ArgumentList.Add a
    psi.Environment["HOME"] <- root
    psi.Environment["DOTNET_CLI_HOME"] <- root
    use p = Process.Start psi
    let out = p.StandardOutput.ReadToEndAsync()
    let err = p.StandardError.ReadToEnd()
    p.WaitForExit()
    Expect.isTrue ((p.ExitCode = 0)) (out.Result + err)
    Expect.stringContains (err) (sprintf "skipped %s: the folder cannot be read (permission denied); its images are left out" locked) "what dsl printed"
    Expect.stringContains (out.Result) ("2 classes, 16 images: a 8, b 8") "what dsl printed"

let ``a weights file loads into the same network in PyTorch and scores what dsl eval reports`` () =
    let hasTorch, why = exec "/usr/bin/python3" [ "-c"; "import torch, numpy" ]
    if hasTorch <> 0 then
        skiptest (sprintf "python3 has no torch or numpy (apt-get install python3-torch): %s" why)
    else
        let file =
            tempModel (
                "network small\n  input 1 x 28 x 28\n  conv 8 kernel 5 pad 2 |> relu\n  batchnorm\n  maxpool 2\n  flatten\n"
                + "  dense 32 |> relu\n  dense classes\n  softmax\ntrain\n  data fashion-mnist\n  optimizer sgd lr 0.05 momentum 0.9\n  batch 64\n  epochs 1\n")
        let out = Path.Combine(Path.GetDirectoryName file, "torch")
        let r = dsl [ "run"; file; "--out"; out ]
        Expect.isTrue ((r.Code = 0)) (r.Out + r.Err)
        let e = dsl [ "eval"; out ]
        Expect.equal (e.Code) (0) "e.Code"
        let ours = Text.RegularExpressions.Regex.Match(e.Out, @"on (\d+) test images: loss [\d.]+  accuracy ([\d.]+)%")
        Expect.isTrue (ours.Success) (e.Out)
        let psi = ProcessStartInfo("/usr/bin/python3", RedirectStandardOutput = true, RedirectStandardError = true)
        for a in [ Path.Combine(repoRoot, "tests", "Cli.Tests", "python", "torch_load.py"); Path.Combine(out, "weights.safetensors")
                   Path.Combine(repoRoot, "tests", "data", "fashion-mnist") ] do psi.ArgumentList.Add a
        use p = Process.Start psi
        let text = p.StandardOutput.ReadToEnd()
        let err = p.StandardError.ReadToEnd()
        p.WaitForExit()
        Expect.isTrue ((p.ExitCode = 0)) (text + err)
        let theirs = Text.RegularExpressions.Regex.Match(text, @"accuracy ([\d.]+) on (\d+) images")
        Expect.isTrue (theirs.Success) (text)
        Expect.equal (theirs.Groups[2].Value) (ours.Groups[1].Value) "theirs.Groups[2].Value"
        // Float sums in another order may flip an image whose two best classes all but tie: at most 2 in 1,000.
        let dslAccuracy, torchAccuracy = float ours.Groups[2].Value / 100.0, float theirs.Groups[1].Value
        Expect.isTrue (abs (dslAccuracy - torchAccuracy) <= 0.002) (sprintf "dsl %.4f, PyTorch %.4f" dslAccuracy torchAccuracy)
        Expect.isTrue (torchAccuracy > 0.5) (sprintf "PyTorch's accuracy %.4f: the weights did not load as trained" torchAccuracy)

[<Tests>]
let tests =
    testList "ReliabilityTests" [
        testCase "typos and surplus arguments are usage errors before any work: run --limt 2000 Models/alexnet.model" (fun () -> ``typos and surplus arguments are usage errors before any work`` ("run --limt 2000 Models/alexnet.model", "has no option `--limt`; did you mean `--limit`?"))
        testCase "typos and surplus arguments are usage errors before any work: run Models/alexnet.model --nosuch" (fun () -> ``typos and surplus arguments are usage errors before any work`` ("run Models/alexnet.model --nosuch", "has no option `--nosuch`"))
        testCase "typos and surplus arguments are usage errors before any work: check Models/lenet.model Models/alexnet.model" (fun () -> ``typos and surplus arguments are usage errors before any work`` ("check Models/lenet.model Models/alexnet.model", "takes one file, got 2"))
        testCase "typos and surplus arguments are usage errors before any work: eval runs/a runs/b" (fun () -> ``typos and surplus arguments are usage errors before any work`` ("eval runs/a runs/b", "takes one run dir, got 2"))
        testCase "typos and surplus arguments are usage errors before any work: devices extra" (fun () -> ``typos and surplus arguments are usage errors before any work`` ("devices extra", "takes no argument like `extra`"))
        testCase "typos and surplus arguments are usage errors before any work: summary --batc 8 Models/lenet.model" (fun () -> ``typos and surplus arguments are usage errors before any work`` ("summary --batc 8 Models/lenet.model", "did you mean `--batch`?"))
        testCase "typos and surplus arguments are usage errors before any work: predict runs/a x.png --top 0" (fun () -> ``typos and surplus arguments are usage errors before any work`` ("predict runs/a x.png --top 0", "--top must be at least 1"))
        testCase "typos and surplus arguments are usage errors before any work: run --resume runs/a --batch 8" (fun () -> ``typos and surplus arguments are usage errors before any work`` ("run --resume runs/a --batch 8", "--batch cannot change mid-run"))
        testCase "typos and surplus arguments are usage errors before any work: run --resume runs/a Models/lenet.model" (fun () -> ``typos and surplus arguments are usage errors before any work`` ("run --resume runs/a Models/lenet.model", "a model file"))
        testCase "typos and surplus arguments are usage errors before any work: run Models/lenet.model --device nosuch" (fun () -> ``typos and surplus arguments are usage errors before any work`` ("run Models/lenet.model --device nosuch", "unknown device `nosuch`"))
        testCase "typos and surplus arguments are usage errors before any work: check Models" (fun () -> ``typos and surplus arguments are usage errors before any work`` ("check Models", "this is a folder, not a model file"))
        testCase "typos and surplus arguments are usage errors before any work: data lst" (fun () -> ``typos and surplus arguments are usage errors before any work`` ("data lst", "unknown command `lst`; did you mean `list`?"))
        testCase "typos and surplus arguments are usage errors before any work: data path fashion-mnist mnist" (fun () -> ``typos and surplus arguments are usage errors before any work`` ("data path fashion-mnist mnist", "`dsl data path` takes one name, got 2"))
        testCase "sub-commands and top-level options pass the check" ``sub-commands and top-level options pass the check``
        testCase "a run that fails before its first step leaves no folder behind" ``a run that fails before its first step leaves no folder behind``
        testCase "a second run on a folder is refused and SIGTERM stops the first with a checkpoint" ``a second run on a folder is refused and SIGTERM stops the first with a checkpoint``
        testCase "predict refuses a FIFO, a device and a folder at once" ``predict refuses a FIFO, a device and a folder at once``
        testCase "a full disk fails the checkpoint cleanly and leaves the previous one whole" ``a full disk fails the checkpoint cleanly and leaves the previous one whole``
        testCase "a read-only run folder: run and resume refuse it, eval reports and only warns about the picture" ``a read-only run folder: run and resume refuse it, eval reports and only warns about the picture``
        testCase "a symbolic-link loop in an image folder adds no images" ``a symbolic-link loop in an image folder adds no images``
        testCase "an unreadable folder inside a class is listed, not silently dropped" ``an unreadable folder inside a class is listed, not silently dropped``
        testCase "a weights file loads into the same network in PyTorch and scores what dsl eval reports" ``a weights file loads into the same network in PyTorch and scores what dsl eval reports``
    ]
