/// The `dsl` command end to end: exit codes (0 ok, 1 failure, 2 bad model file or usage), what it prints, no stack traces.
module Dsl.Cli.Tests.CommandTests

open Xunit
open Dsl.Cli.Tests.RunDsl

let private noStackTrace (r: Result) = Assert.DoesNotContain("   at ", r.Out + r.Err)

[<Fact>]
let ``check says ok with the parameter count`` () =
    let r = dsl [ "check"; model "alexnet.model"; "--classes"; "1000" ]
    Assert.Equal(0, r.Code)
    Assert.Contains("ok: alexnet", r.Out)
    Assert.Contains("60,965,224 parameters", r.Out)

[<Fact>]
let ``summary shows the AlexNet table`` () =
    let r = dsl [ "summary"; model "alexnet.model"; "--classes"; "1000"; "--batch"; "16" ]
    Assert.Equal(0, r.Code)
    for shape in [ "96x55x55"; "256x27x27"; "256x6x6"; "9216"; "4096"; "1000" ] do
        Assert.Contains(shape, r.Out)
    Assert.Contains("60,965,224", r.Out)
    Assert.Contains("training step at batch 16", r.Out)

[<Fact>]
let ``a bad model file is exit 2 with file, line, column and caret`` () =
    let path = tempModel "network x\n  input 3 x 32 x 32\n  conv 16 kernl 3\n"
    let r = dsl [ "check"; path ]
    Assert.Equal(2, r.Code)
    Assert.Contains("test.model:3:11: error: conv has no option `kernl`", r.Err)
    Assert.Contains("^", r.Err)
    Assert.Contains("did you mean `kernel`?", r.Err)
    noStackTrace r

[<Fact>]
let ``a missing model file is exit 2 without a stack trace`` () =
    let r = dsl [ "check"; "no/such.model" ]
    Assert.Equal(2, r.Code)
    Assert.Contains("no such model file", r.Err)
    noStackTrace r

[<Theory>]
[<InlineData("--batch", "0")>]
[<InlineData("--epochs", "-1")>]
[<InlineData("--limit", "0")>]
let ``nonsense numbers on the command line are usage errors`` (flag: string, value: string) =
    let r = dsl [ "run"; model "lenet.model"; flag; value ]
    Assert.Equal(2, r.Code)
    Assert.Contains(flag, r.Err)
    noStackTrace r

[<Fact>]
let ``an unknown verb prints the usage`` () =
    let r = dsl [ "trian"; model "lenet.model" ]
    Assert.Equal(2, r.Code)
    Assert.Contains("USAGE: dsl", r.Out + r.Err)

[<Fact>]
let ``run trains lenet briefly and writes its run folder`` () =
    let out = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "dsl-cli-run-" + string (System.Random().Next()))
    let r = dsl [ "run"; model "lenet.model"; "--epochs"; "1"; "--limit"; "512"; "--batch"; "64"; "--out"; out ]
    Assert.True((r.Code = 0), r.Out + r.Err)
    Assert.Contains("epoch   1", r.Out)
    Assert.Contains("test: loss", r.Out)
    Assert.True(System.IO.File.Exists(System.IO.Path.Combine(out, "metrics.csv")))
    Assert.True(System.IO.File.Exists(System.IO.Path.Combine(out, "weights.safetensors")))
