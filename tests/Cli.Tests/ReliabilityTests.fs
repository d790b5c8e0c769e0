/// Bad input and faults at the command line: typos refused before any work, one run per folder, signals, full and
/// read-only disks, FIFOs. Each ends in a message and an exit code, never a stack trace, a hang or lost results.
module Dsl.Cli.Tests.ReliabilityTests

open System
open System.Diagnostics
open System.IO
open System.Threading
open Xunit
open Dsl.Cli.Tests.RunDsl

let private noStackTrace (r: Result) = Assert.DoesNotContain("   at ", r.Out + r.Err)

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

[<Theory>]
[<InlineData("run --limt 2000 Models/alexnet.model", "has no option `--limt`; did you mean `--limit`?")>]
[<InlineData("run Models/alexnet.model --nosuch", "has no option `--nosuch`")>]
[<InlineData("check Models/lenet.model Models/alexnet.model", "takes one file, got 2")>]
[<InlineData("eval runs/a runs/b", "takes one run dir, got 2")>]
[<InlineData("devices extra", "takes no argument like `extra`")>]
[<InlineData("summary --batc 8 Models/lenet.model", "did you mean `--batch`?")>]
[<InlineData("predict runs/a x.png --top 0", "--top must be at least 1")>]
[<InlineData("run --resume runs/a --batch 8", "--batch cannot change mid-run")>]
[<InlineData("run --resume runs/a Models/lenet.model", "a model file")>]
[<InlineData("run Models/lenet.model --device nosuch", "unknown device `nosuch`")>]
[<InlineData("check Models", "this is a folder, not a model file")>]
let ``typos and surplus arguments are usage errors before any work`` (line: string, expected: string) =
    let r = dsl (List.ofArray (line.Split ' '))
    Assert.Equal(2, r.Code)
    Assert.Contains(expected, r.Err)
    Assert.DoesNotContain("training", r.Out)
    noStackTrace r

[<Fact>]
let ``a run that fails before its first step leaves no folder behind`` () =
    let file = tempModel (tiny 1)
    let out = Path.Combine(Path.GetDirectoryName file, "never")
    let r = dsl [ "run"; file; "--out"; out; "--limit"; "10" ]
    Assert.Equal(1, r.Code)
    Assert.Contains("only 10 training images", r.Err)
    Assert.False(Directory.Exists out)
    let onFile = dsl [ "run"; file; "--out"; file ]
    Assert.Equal(1, onFile.Code)
    Assert.Contains("it is a file", onFile.Err)
    noStackTrace onFile

[<Fact>]
let ``a second run on a folder is refused and SIGTERM stops the first with a checkpoint`` () =
    let file = tempModel (tiny 100000)
    let out = Path.Combine(Path.GetDirectoryName file, "shared")
    use first = start [ "run"; file; "--out"; out ]
    let firstOut = Text.StringBuilder()
    let epochDone = new ManualResetEventSlim()
    first.OutputDataReceived.Add(fun e -> if not (isNull e.Data) then (lock firstOut (fun () -> firstOut.AppendLine e.Data |> ignore); if e.Data.StartsWith "epoch" then epochDone.Set()))
    first.BeginOutputReadLine()
    Assert.True(epochDone.Wait(TimeSpan.FromMinutes 3.0), "the first run did not finish an epoch")

    let second = dsl [ "run"; file; "--out"; out; "--epochs"; "1" ]
    Assert.Equal(1, second.Code)
    Assert.Contains(sprintf "in use by another run (process %d" first.Id, second.Err)
    noStackTrace second

    Assert.Equal(0, fst (exec "kill" [ "-TERM"; string first.Id ]))
    first.WaitForExit()
    let text = lock firstOut (fun () -> firstOut.ToString())
    Assert.True((first.ExitCode = 143), text + first.StandardError.ReadToEnd())
    Assert.Contains("stopped: cancelled at epoch", text)
    Assert.Contains(sprintf "to continue: dsl run --resume %s" out, text)
    // The first run's files are whole and its own: one header in metrics.csv, a checkpoint that loads, no lock left.
    Assert.Equal(1, File.ReadAllLines(Path.Combine(out, "metrics.csv")) |> Array.filter (fun l -> l.StartsWith "epoch,") |> Array.length)
    Dsl.Runtime.SafeTensors.Read(Path.Combine(out, "last.safetensors")) |> ignore
    Assert.False(File.Exists(Path.Combine(out, "run.lock")))

/// A finished run of the tiny model, for eval and predict.
let private finishedRun () =
    let file = tempModel (tiny 1)
    let out = Path.Combine(Path.GetDirectoryName file, "done")
    let r = dsl [ "run"; file; "--out"; out ]
    Assert.True((r.Code = 0), r.Out + r.Err)
    out

[<Fact>]
let ``predict refuses a FIFO, a device and a folder at once`` () =
    let run = finishedRun ()
    let fifo = Path.Combine(run, "pipe.png")
    Assert.Equal(0, fst (exec "mkfifo" [ fifo ]))
    // Opening the FIFO would block until a writer came: returning at all is the check.
    let r = dsl [ "predict"; run; fifo; "/dev/zero"; run ]
    Assert.Equal(1, r.Code)
    Assert.Contains("pipe.png: is not a regular file but a FIFO", r.Err)
    Assert.Contains("/dev/zero: is not a regular file but a character device", r.Err)
    Assert.Contains(sprintf "%s: is a folder" run, r.Err)
    noStackTrace r

/// Mounts a tmpfs of `size` at a new folder for the test's body (root only: elsewhere the test has nothing to show
/// and says so by returning).
let private withTmpfs (size: string) (body: string -> unit) =
    let dir = Directory.CreateTempSubdirectory("dsl-tmpfs-").FullName
    let code, _ = exec "mount" [ "-t"; "tmpfs"; "-o"; "size=" + size; "tmpfs"; dir ]
    if code = 0 then
        try body dir
        finally exec "umount" [ "-l"; dir ] |> ignore

let private bigger epochs =
    // About 0.5 MB of weights, so the checkpoint (weights and momentum) is the largest file a run writes.
    sprintf "network bigger\n  input 1 x 16 x 16\n  flatten\n  dense 512 |> relu\n  dense classes\n  softmax\ntrain\n  data synthetic 3\n  optimizer sgd lr 0.01 momentum 0.9\n  batch 32\n  epochs %d\n" epochs

[<Fact>]
let ``a full disk fails the checkpoint cleanly and leaves the previous one whole`` () =
    withTmpfs "4m" (fun mnt ->
        let file = tempModel (bigger 1)
        let out = Path.Combine(mnt, "run")
        let r = dsl [ "run"; file; "--out"; out ]
        Assert.True((r.Code = 0), r.Out + r.Err)
        let checkpoint = Path.Combine(out, "last.safetensors")
        let before = File.ReadAllBytes checkpoint
        // Fill the disk to within 64 KiB: room for the lock and the metrics, none for a new checkpoint.
        let free = DriveInfo(mnt).AvailableFreeSpace
        File.WriteAllBytes(Path.Combine(mnt, "filler"), Array.zeroCreate (int (free - 65536L)))
        let resumed = dsl [ "run"; "--resume"; out; "--epochs"; "2" ]
        Assert.Equal(1, resumed.Code)
        Assert.Contains(sprintf "cannot write %s: No space left on device; the previous file is left as it was" checkpoint, resumed.Err)
        noStackTrace resumed
        Assert.Equal<byte[]>(before, File.ReadAllBytes checkpoint)
        Assert.Empty(Directory.GetFiles(out, "*.tmp"))
        Assert.False(File.Exists(Path.Combine(out, "run.lock"))))

[<Fact>]
let ``a read-only run folder: run and resume refuse it, eval reports and only warns about the picture`` () =
    let run = finishedRun ()
    withTmpfs "8m" (fun mnt ->
        let copy = Path.Combine(mnt, "run")
        Directory.CreateDirectory copy |> ignore
        for f in Directory.GetFiles run do File.Copy(f, Path.Combine(copy, Path.GetFileName f))
        let before = File.ReadAllBytes(Path.Combine(copy, "last.safetensors"))
        Assert.Equal(0, fst (exec "mount" [ "-o"; "remount,ro"; mnt ]))
        let resumed = dsl [ "run"; "--resume"; copy; "--epochs"; "2" ]
        Assert.Equal(1, resumed.Code)
        Assert.Contains(sprintf "cannot write in the run folder %s: Read-only file system" copy, resumed.Err)
        noStackTrace resumed
        Assert.Equal<byte[]>(before, File.ReadAllBytes(Path.Combine(copy, "last.safetensors")))
        let fresh = dsl [ "run"; tempModel (tiny 1); "--out"; Path.Combine(mnt, "new") ]
        Assert.Equal(1, fresh.Code)
        Assert.Contains("Read-only file system", fresh.Err)
        noStackTrace fresh
        let e = dsl [ "eval"; copy ]
        Assert.Equal(0, e.Code)
        Assert.Contains("accuracy", e.Out)
        Assert.Contains(sprintf "warning: cannot write %s/" copy, e.Err)
        Assert.Contains("Read-only file system", e.Err)
        noStackTrace e)

[<Fact>]
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
    Assert.Equal(0, c.Code)
    Assert.Contains("output 2", c.Out)
    let r = dsl [ "run"; file; "--out"; Path.Combine(root, "..", Path.GetFileName root + "-run") ]
    Assert.True((r.Code = 0), r.Out + r.Err)
    Assert.Contains(sprintf "image folder %s: 2 classes, 40 images: sneaker 20, tshirt 20" root, r.Out)
    Assert.Contains("a folder already read; not followed", r.Err)

[<Fact>]
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
    // Root reads any folder whatever its mode: as root the run goes through setpriv as the unprivileged user nobody.
    let asRoot = Environment.UserName = "root"
    let psi = ProcessStartInfo((if asRoot then "setpriv" else "dotnet"), RedirectStandardOutput = true, RedirectStandardError = true)
    if asRoot then for a in [ "--reuid=65534"; "--regid=65534"; "--clear-groups"; "dotnet" ] do psi.ArgumentList.Add a
    for a in [ Path.Combine(AppContext.BaseDirectory, "dsl.dll"); "run"; file; "--out"; Path.Combine(root, "run") ] do psi.ArgumentList.Add a
    psi.Environment["HOME"] <- root
    psi.Environment["DOTNET_CLI_HOME"] <- root
    use p = Process.Start psi
    let out = p.StandardOutput.ReadToEndAsync()
    let err = p.StandardError.ReadToEnd()
    p.WaitForExit()
    Assert.True((p.ExitCode = 0), out.Result + err)
    Assert.Contains(sprintf "skipped %s: the folder cannot be read (permission denied); its images are left out" locked, err)
    Assert.Contains("2 classes, 16 images: a 8, b 8", out.Result)

[<Fact>]
let ``a weights file loads into the same network in PyTorch and scores what dsl eval reports`` () =
    let hasTorch, why = exec "/usr/bin/python3" [ "-c"; "import torch, numpy" ]
    if hasTorch <> 0 then
        eprintfn "skipped: python3 has no torch or numpy (apt-get install python3-torch): %s" why
    else
        let file =
            tempModel (
                "network small\n  input 1 x 28 x 28\n  conv 8 kernel 5 pad 2 |> relu\n  batchnorm\n  maxpool 2\n  flatten\n"
                + "  dense 32 |> relu\n  dense classes\n  softmax\ntrain\n  data fashion-mnist\n  optimizer sgd lr 0.05 momentum 0.9\n  batch 64\n  epochs 1\n")
        let out = Path.Combine(Path.GetDirectoryName file, "torch")
        let r = dsl [ "run"; file; "--out"; out ]
        Assert.True((r.Code = 0), r.Out + r.Err)
        let e = dsl [ "eval"; out ]
        Assert.Equal(0, e.Code)
        let ours = Text.RegularExpressions.Regex.Match(e.Out, @"on (\d+) test images: loss [\d.]+  accuracy ([\d.]+)%")
        Assert.True(ours.Success, e.Out)
        let psi = ProcessStartInfo("/usr/bin/python3", RedirectStandardOutput = true, RedirectStandardError = true)
        for a in [ Path.Combine(repoRoot, "tests", "Cli.Tests", "python", "torch_load.py"); Path.Combine(out, "weights.safetensors")
                   Path.Combine(repoRoot, "tests", "data", "fashion-mnist") ] do psi.ArgumentList.Add a
        use p = Process.Start psi
        let text = p.StandardOutput.ReadToEnd()
        let err = p.StandardError.ReadToEnd()
        p.WaitForExit()
        Assert.True((p.ExitCode = 0), text + err)
        let theirs = Text.RegularExpressions.Regex.Match(text, @"accuracy ([\d.]+) on (\d+) images")
        Assert.True(theirs.Success, text)
        Assert.Equal(ours.Groups[1].Value, theirs.Groups[2].Value)
        // Float sums in another order may flip an image whose two best classes all but tie: at most 2 in 1,000.
        let dslAccuracy, torchAccuracy = float ours.Groups[2].Value / 100.0, float theirs.Groups[1].Value
        Assert.True(abs (dslAccuracy - torchAccuracy) <= 0.002, sprintf "dsl %.4f, PyTorch %.4f" dslAccuracy torchAccuracy)
        Assert.True(torchAccuracy > 0.5, sprintf "PyTorch's accuracy %.4f: the weights did not load as trained" torchAccuracy)
