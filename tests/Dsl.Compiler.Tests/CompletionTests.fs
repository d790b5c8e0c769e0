/// What the compiler offers an editor to complete: the words a train-block line may continue with, and each
/// layer's options. Expected lists are written out by hand from docs/language.md; every word offered is then
/// checked to be one that validation accepts.
module Dsl.Compiler.Tests.CompletionTests

open Xunit
open Dsl.Core
open Dsl.Compiler

let private next (line: string) =
    match Parser.tryParseTrainEntry line with
    | Some e -> TrainBlock.nextWords e
    | None -> failwithf "`%s` does not parse as a train line" line

[<Fact>]
let ``a train line continues with the words its validator asks for`` () =
    Assert.Equal<string list>([ "sgd"; "adam"; "rmsprop" ], next "optimizer")
    Assert.Equal<string list>([ "momentum"; "nesterov"; "weight-decay" ], next "optimizer sgd lr 0.1")
    Assert.Equal<string list>([ "resize"; "channels"; "validation" ], next "data fashion-mnist")
    Assert.Equal<string list>([ "crop"; "flip"; "brightness"; "contrast"; "rotate"; "translate" ], next "augment crop 28 from 32,")
    Assert.Equal<string list>([ "horizontal"; "vertical" ], next "augment flip")
    // A number comes next, the line is complete, or it is already wrong: nothing to offer.
    Assert.Empty(next "epochs")
    Assert.Empty(next "epochs 10")
    Assert.Empty(next "optimizer sdg")
    Assert.Empty(next "no-such-key")

[<Fact>]
let ``every word offered after a train key is accepted there`` () =
    let before = "network t\n  input 4\n  dense 2\n  softmax\ntrain\n  data synthetic 2\n"
    for key in TrainBlock.keys |> List.filter ((<>) "data") do
        for word in next key do
            try Frontend.compileText "t.model" None (before + sprintf "  %s %s\n" key word) |> ignore
            with ModelFileError (e :: _) -> Assert.DoesNotContain("unknown", e.Message)

[<Fact>]
let ``a layer's options are its keys and flags`` () =
    Assert.Equal<string list>([ "kernel"; "stride"; "pad"; "groups"; "bias"; "floor"; "ceil" ], (Expand.layerOptions "conv").Value)
    Assert.Equal<string list>([], (Expand.layerOptions "relu").Value)
    Assert.Equal(None, Expand.layerOptions "convolution")
