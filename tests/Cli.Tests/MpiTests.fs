/// `mpirun -np 2 dsl run`: the same training as one process, a killed process ends the job and resume finishes it,
/// a process that cannot read its data stops the job. Skipped, saying so, where Open MPI's mpirun is not installed.
module Dsl.Cli.Tests.MpiTests

open System
open System.Diagnostics
open System.IO
open System.Text.RegularExpressions
open System.Threading
open Expecto
open Dsl.Runtime
open Dsl.Cli
open Dsl.Cli.Tests.RunDsl

let private mpirun =
    Environment.GetEnvironmentVariable("PATH").Split(':') |> Array.map (fun d -> Path.Combine(d, "mpirun")) |> Array.tryFind File.Exists

/// mpirun as the tests start it: as root it must be allowed, and two processes may share fewer cores.
let private launcher n =
    match mpirun with
    | None -> skiptest "Open MPI's mpirun is not installed (sudo apt-get install openmpi-bin libopenmpi3)"; []
    | Some path -> [ path; "--allow-run-as-root"; "--oversubscribe"; "-np"; string n ]

/// A job of `n` processes with `env` set in their environment (mpirun passes it to those it starts on this machine).
let private mpiWith (env: (string * string) list) n args =
    let psi = startInfo (launcher n) args
    for name, value in env do psi.Environment[name] <- value
    use p = Process.Start psi
    finish p

let private mpi n args = mpiWith [] n args

let private weights dir : Collections.Generic.IReadOnlyDictionary<string, StoredTensor> =
    let struct (tensors, _) = SafeTensors.Read(Path.Combine(dir, "weights.safetensors"))
    tensors

let private testAccuracy (r: Result) = Regex.Match(r.Out, @"test: loss \S+\s+accuracy (\S+)%").Groups[1].Value

// 5 steps of 64 images: lenet's own batch, one epoch of --limit 320.
let private lenet out = [ "run"; model "lenet.model"; "--epochs"; "1"; "--limit"; "320"; "--batch"; "64"; "--out"; out ]

/// Float32 sums in another order: each process averages its 32 images' gradients and the two means are averaged, where
/// one process sums 64 at once (and its kernels block the batch differently, conv2's Winograd filter gradient in chunks
/// of tiles cut where the batch is): about 1e-7 of a weight per step. Carried through 5 momentum steps that measured
/// 2e-6 of a tensor's largest value (conv1.bias). Not through 20: sooner or later such a difference tips one max-pool
/// winner or relu sign the other way, and from that step on the runs part by 1e-4 to 6e-3 (measured on F(4x4, 5x5) at
/// 12 and 20 steps; the F(2x2, 5x5) before it had not tipped by 20). 1e-4 leaves 50 times the 5-step figure and is
/// still ten times below what one training step changes (lr 0.01 moves weights by 1e-3 of their size), so a shard taken
/// from the wrong images, a gradient not averaged or another dropout mask fails it.
let private tolerance = 1e-4

let ``2 processes x 32 train the same lenet as 1 process x 64`` () =
    let dir = Directory.CreateTempSubdirectory("dsl-mpi-").FullName
    let two = mpi 2 (lenet (Path.Combine(dir, "two")))
    Expect.equal two.Code 0 (two.Out + two.Err)
    Expect.stringContains two.Out "2 processes x 1 threads" "the header says how the job is spread"
    let one = dsl (lenet (Path.Combine(dir, "one")))
    Expect.equal one.Code 0 (one.Out + one.Err)
    let a, b = weights (Path.Combine(dir, "one")), weights (Path.Combine(dir, "two"))
    Expect.equal (Set b.Keys) (Set a.Keys) "the same tensors"
    let worst =
        [ for KeyValue(name, t) in a ->
            let u = b[name].Values
            let scale = t.Values |> Array.map (fun v -> abs (float v)) |> Array.max
            let diff = Array.map2 (fun (x: float32) (y: float32) -> abs (float x - float y)) t.Values u |> Array.max
            name, (if scale > 0.0 then diff / scale else diff) ]
    printfn "2x32 against 1x64 after 5 steps, largest difference over each tensor's largest value: %s"
        (String.Join(", ", worst |> List.map (fun (n, d) -> sprintf "%s %.1e" n d)))
    for name, d in worst do Expect.isLessThanOrEqual d tolerance (sprintf "%s differs by %.2e of its largest value" name d)
    Expect.isNotEmpty (testAccuracy one) one.Out
    Expect.equal (testAccuracy two) (testAccuracy one) "the same test accuracy after the epoch"

let private killable =
    "network killable\n  input 3 x 32 x 32\n  conv 16 kernel 3 pad 1 |> relu\n  maxpool 2\n  conv 32 kernel 3 pad 1 |> relu\n  maxpool 2\n"
    + "  flatten\n  dense 64 |> relu |> dropout 0.3\n  dense classes\n  softmax\n"
    + "train\n  data synthetic 4\n  optimizer sgd lr 0.02 momentum 0.9\n  batch 16\n  epochs 6\n  seed 3\n"

/// The process of rank `rank` that mpirun `parent` started.
let private rankProcess (parent: int) (rank: int) =
    let ppid (pid: string) = try (File.ReadAllText(sprintf "/proc/%s/stat" pid)).Split(')').[1].Split(' ').[2] with _ -> ""
    let isRank (pid: string) = try (File.ReadAllText(sprintf "/proc/%s/environ" pid)).Split('\000') |> Array.contains (sprintf "OMPI_COMM_WORLD_RANK=%d" rank) with _ -> false
    Directory.GetDirectories "/proc" |> Array.map Path.GetFileName
    |> Array.tryFind (fun pid -> pid |> Seq.forall Char.IsDigit && ppid pid = string parent && isRank pid)
    |> Option.map int

let ``kill -9 of one process ends the job; resume finishes it bit for bit, on 2 processes or 1`` () =
    let file = tempModel killable
    let dir = Path.GetDirectoryName file
    let whole, killed, other = Path.Combine(dir, "whole"), Path.Combine(dir, "killed"), Path.Combine(dir, "other")
    let r = mpi 2 [ "run"; file; "--out"; whole ]
    Expect.equal r.Code 0 (r.Out + r.Err)

    use p = Process.Start(startInfo (launcher 2) [ "run"; file; "--out"; killed ])
    let output = Tasks.Task.Run(fun () -> finish p)
    let checkpoint = Path.Combine(killed, Checkpoints.Latest)
    let clock = Stopwatch.StartNew()
    while not (File.Exists checkpoint) && not p.HasExited && clock.Elapsed.TotalSeconds < 120.0 do Thread.Sleep 10
    Thread.Sleep 150
    Expect.isFalse p.HasExited "the job finished before it could be killed; give it more epochs"
    let victim = rankProcess p.Id 1
    Expect.isSome victim "process 1 of the job found among mpirun's children"
    Process.GetProcessById(victim.Value).Kill()
    let killedAt = Stopwatch.StartNew()
    Expect.isTrue (output.Wait(TimeSpan.FromSeconds 30.0)) "the job ends after one of its processes is killed"
    let seconds = killedAt.Elapsed.TotalSeconds
    printfn "the job ended %.1f s after process 1 was killed" seconds
    let r = output.Result
    Expect.notEqual r.Code 0 "the job's exit code says it failed"
    Expect.isLessThan seconds 10.0 "the job ends within seconds"
    Expect.stringContains (r.Out + r.Err) "rank 1" "mpirun names the process that died"
    Expect.stringContains (r.Out + r.Err) "signal 9" "and how it died"

    // mpirun can return while process 0, blocked in an allreduce with the dead process, is still being ended (a lock
    // held by a process already ended but not yet reaped counts as free: RunFolder). Wait for it to be gone first.
    let holder = (File.ReadAllText(Path.Combine(killed, "run.lock"))).Split(' ').[0]
    let alive () = try (File.ReadAllText(sprintf "/proc/%s/stat" holder)).Split(')').[1].Split(' ').[1] <> "Z" with _ -> false
    let gone = Stopwatch.StartNew()
    while alive () && gone.Elapsed.TotalSeconds < 30.0 do Thread.Sleep 50
    Expect.isFalse (alive ()) "process 0 of the killed job ended within 30 s"
    // The checkpoint is whole: a copy resumes on one process, the original on two, and that one ends where the uninterrupted job did.
    Directory.CreateDirectory other |> ignore
    for f in Directory.GetFiles killed do File.Copy(f, Path.Combine(other, Path.GetFileName f))
    let resumed = mpi 2 [ "run"; "--resume"; killed ]
    Expect.equal resumed.Code 0 (resumed.Out + resumed.Err)
    Expect.stringContains resumed.Out "resuming from" "resumed.Out"
    Expect.equal (File.ReadAllBytes(Path.Combine(killed, "weights.safetensors"))) (File.ReadAllBytes(Path.Combine(whole, "weights.safetensors"))) "weights bit for bit"
    let alone = dsl [ "run"; "--resume"; other ]
    Expect.equal alone.Code 0 (alone.Out + alone.Err)
    Expect.stringContains alone.Out "resuming from" "alone.Out"

let ``a process that cannot read its data stops the job with its reason`` () =
    let good = tempModel killable
    let bad = tempModel (killable.Replace("data synthetic 4", "data folder \"/nonexistent-dsl-data\""))
    let out = Path.Combine(Path.GetDirectoryName good, "run")
    // MPMD: process 0 runs the good file, process 1 the one whose data is missing.
    let dll = Path.Combine(AppContext.BaseDirectory, "dsl.dll")
    let clock = Stopwatch.StartNew()
    let r = mpi 1 [ "run"; good; "--out"; out; ":"; "-np"; "1"; "dotnet"; dll; "run"; bad; "--out"; out ]
    Expect.notEqual r.Code 0 "the job fails"
    Expect.isLessThan clock.Elapsed.TotalSeconds 60.0 "and does not hang"
    Expect.stringContains r.Err "process 1 of 2: data:" "the failing process says who it is and what failed"
    Expect.stringContains r.Err "/nonexistent-dsl-data" "and names the missing data"

let ``dsl run --ranks 2 trains what mpirun -np 2 dsl run does`` () =
    let file = tempModel (killable.Replace("epochs 6", "epochs 1"))
    let dir = Path.GetDirectoryName file
    let r = mpi 2 [ "run"; file; "--out"; Path.Combine(dir, "mpirun") ]
    Expect.equal r.Code 0 (r.Out + r.Err)
    let ranks = dsl [ "run"; "--ranks"; "2"; file; "--out"; Path.Combine(dir, "ranks") ]
    Expect.equal ranks.Code 0 (ranks.Out + ranks.Err)
    Expect.stringContains ranks.Out "starting 2 processes: " "it says the mpirun command it runs"
    Expect.stringContains ranks.Out "on 2 processes x " "the job's header"
    let bytes name = File.ReadAllBytes(Path.Combine(dir, name, "weights.safetensors"))
    Expect.equal (bytes "ranks") (bytes "mpirun") "the same weights bit for bit"

/// The largest difference between two runs' weights, over each tensor's largest value.
let private worstDifference one two =
    let a, b = weights one, weights two
    Expect.equal (Set b.Keys) (Set a.Keys) "the same tensors"
    [ for KeyValue(name, t) in a ->
        let scale = t.Values |> Array.map (fun v -> abs (float v)) |> Array.max
        let diff = Array.map2 (fun (x: float32) (y: float32) -> abs (float x - float y)) t.Values b[name].Values |> Array.max
        if scale > 0.0 then diff / scale else diff ]
    |> List.max

let ``2 processes x 8 on OpenCL train what 1 process x 16 does, averaging through host memory`` () =
    let found, problem = Devices.OpenCl()
    if found.Count = 0 then skiptest (sprintf "no OpenCL device (%s); PoCL gives one: sudo apt-get install pocl-opencl-icd" problem)
    // Dropout: each process must draw the masks of its shard's samples in the whole batch.
    // Small, since PoCL runs slowly on a shared machine.
    let file = tempModel (killable.Replace("epochs 6", "epochs 1").Replace("3 x 32 x 32", "3 x 16 x 16").Replace("conv 32", "conv 8").Replace("conv 16", "conv 8"))
    let dir = Path.GetDirectoryName file
    let args out = [ "run"; file; "--device"; "opencl"; "--limit"; "160"; "--out"; Path.Combine(dir, out) ]
    let two = mpi 2 (args "two")
    Expect.equal two.Code 0 (two.Out + two.Err)
    Expect.stringContains two.Out "warning: the gradients are averaged through host memory" "the job says the averaging goes through the host"
    Expect.stringContains two.Out "training killable on 2 processes on OpenCL" "the header"
    let one = dsl (args "one")
    Expect.equal one.Code 0 (one.Out + one.Err)
    let worst = worstDifference (Path.Combine(dir, "one")) (Path.Combine(dir, "two"))
    printfn "2x8 against 1x16 on OpenCL after 10 steps: largest difference %.1e of a tensor's largest value" worst
    Expect.isLessThanOrEqual worst tolerance "the same weights within float32 summation order"

// Batch norm after every layer; no bias before one (its gradient is zero, so its values are rounding noise).
let private batchNormed =
    "network bn\n  input 3 x 32 x 32\n  conv 8 kernel 3 pad 1 bias off |> batchnorm |> relu\n  maxpool 2\n"
    + "  conv 8 kernel 3 pad 1 bias off |> batchnorm |> relu\n  maxpool 2\n  flatten\n  dense 32 bias off |> batchnorm |> relu\n"
    + "  dense classes\n  softmax\ntrain\n  data synthetic 4\n  optimizer sgd lr 0.05 momentum 0.9\n  batch 16\n  epochs 1\n  seed 5\n"

let ``--sync-batchnorm: 2 processes x 8 normalise as 1 process x 16 does; without it they do not`` () =
    let file = tempModel batchNormed
    let dir = Path.GetDirectoryName file
    let args out = [ "run"; file; "--limit"; "160"; "--out"; Path.Combine(dir, out) ]
    let one = dsl (args "one")
    Expect.equal one.Code 0 (one.Out + one.Err)
    let synced = mpi 2 (args "synced" @ [ "--sync-batchnorm" ])
    Expect.equal synced.Code 0 (synced.Out + synced.Err)
    let apart = mpi 2 (args "apart")
    Expect.equal apart.Code 0 (apart.Out + apart.Err)
    let withSync, without = worstDifference (Path.Combine(dir, "one")) (Path.Combine(dir, "synced")), worstDifference (Path.Combine(dir, "one")) (Path.Combine(dir, "apart"))
    printfn "2x8 against 1x16 after 10 steps, largest difference of a tensor's largest value: %.1e with --sync-batchnorm, %.1e without" withSync without
    Expect.isLessThanOrEqual withSync tolerance "synchronised: the statistics of the whole batch, the single process's weights"
    Expect.isGreaterThan without (100.0 * tolerance) "per-process statistics train another network: the comparison tells the two apart"

let ``the allreduce overlapped with the backward pass ends with the weights of the one after it, bit for bit`` () =
    let file = tempModel batchNormed
    let dir = Path.GetDirectoryName file
    // Buckets of 1000 values: 18 a step, most started while the backward pass goes on; the synchronised batch norms'
    // sums in the backward pass take their turn between them.
    let run overlap =
        let r = mpiWith [ "DSL_BUCKET_MB", "0.004"; "DSL_OVERLAP", overlap ] 2 [ "run"; file; "--limit"; "160"; "--sync-batchnorm"; "--out"; Path.Combine(dir, overlap) ]
        Expect.equal r.Code 0 (r.Out + r.Err)
        r
    let overlapped, after = run "1", run "0"
    Expect.stringContains overlapped.Out "in 18 allreduce buckets through host memory over MPI, each as the backward pass finishes its gradients (overlapped)" "the job says it overlaps"
    Expect.stringContains overlapped.Out "hidden behind the backward pass" "and how much of the allreduce it hid"
    Expect.isFalse (after.Out.Contains "overlapped") "DSL_OVERLAP=0 averages after the backward pass"
    let bytes name = File.ReadAllBytes(Path.Combine(dir, name, "weights.safetensors"))
    Expect.equal (bytes "1") (bytes "0") "the same weights bit for bit"

let ``--ranks builds mpirun's command line: root, more processes than cores, threads`` () =
    let dsl = Ranks.commandLine "/m/mpirun" 4 true 2 [ "a.model"; "--out"; "o" ] |> List.skipWhile ((<>) "-np")
    Expect.containsAll (Ranks.commandLine "/m/mpirun" 4 true 2 []) [ "--allow-run-as-root"; "--oversubscribe"; "--bind-to"; "none" ] "as root, 4 processes on 2 cores"
    Expect.equal (List.take 2 dsl) [ "-np"; "4" ] "4 processes"
    Expect.equal (List.skipWhile ((<>) "run") dsl) [ "run"; "a.model"; "--out"; "o"; "--threads"; "1" ] "the arguments, then 1 thread each (2 cores / 4, at least 1)"
    let plain = Ranks.commandLine "/m/mpirun" 2 false 16 [ "a.model"; "--threads"; "3" ]
    Expect.equal (List.head plain) "/m/mpirun" "mpirun first"
    Expect.isFalse (List.exists (fun a -> a = "--allow-run-as-root" || a = "--oversubscribe") plain) "not root, 2 processes on 16 cores: neither flag"
    Expect.equal (List.skipWhile ((<>) "run") plain) [ "run"; "a.model"; "--threads"; "3" ] "--threads given: kept, none added"
    Expect.equal (Ranks.commandLine "/m/mpirun" 2 false 16 [ "a.model" ] |> List.last) "8" "16 cores / 2 processes: 8 threads each"

let ``dsl run --ranks without Open MPI says what to install`` () =
    let file = tempModel killable
    let psi = startInfo [] [ "run"; "--ranks"; "2"; file; "--out"; Path.Combine(Path.GetDirectoryName file, "run") ]
    psi.Environment["PATH"] <- "/nonexistent-dsl-path"
    use p = Process.Start psi
    let r = finish p
    Expect.equal r.Code 1 (r.Out + r.Err)
    Expect.stringContains r.Err "mpirun, which is not installed" "names what is missing"
    Expect.stringContains r.Err "sudo apt-get install openmpi-bin libopenmpi3" "and the command that installs it"
    Expect.isFalse (Directory.Exists(Path.Combine(Path.GetDirectoryName file, "run"))) "and starts nothing"

[<Tests>]
let tests =
    testList "MpiTests" [
        testCase "2 processes x 32 train the same lenet as 1 process x 64" ``2 processes x 32 train the same lenet as 1 process x 64``
        testCase "kill -9 of one process ends the job; resume finishes it bit for bit, on 2 processes or 1" ``kill -9 of one process ends the job; resume finishes it bit for bit, on 2 processes or 1``
        testCase "a process that cannot read its data stops the job with its reason" ``a process that cannot read its data stops the job with its reason``
        testCase "dsl run --ranks 2 trains what mpirun -np 2 dsl run does" ``dsl run --ranks 2 trains what mpirun -np 2 dsl run does``
        testCase "dsl run --ranks without Open MPI says what to install" ``dsl run --ranks without Open MPI says what to install``
        testCase "--ranks builds mpirun's command line: root, more processes than cores, threads" ``--ranks builds mpirun's command line: root, more processes than cores, threads``
        testCase "2 processes x 8 on OpenCL train what 1 process x 16 does, averaging through host memory" ``2 processes x 8 on OpenCL train what 1 process x 16 does, averaging through host memory``
        testCase "--sync-batchnorm: 2 processes x 8 normalise as 1 process x 16 does; without it they do not" ``--sync-batchnorm: 2 processes x 8 normalise as 1 process x 16 does; without it they do not``
        testCase "the allreduce overlapped with the backward pass ends with the weights of the one after it, bit for bit" ``the allreduce overlapped with the backward pass ends with the weights of the one after it, bit for bit``
    ]
