/// What the compiler offers an editor to complete: the words a train-block line may continue with, and each
/// layer's options. Expected lists are written out by hand from docs/language.md; every word offered is then
/// checked to be one that validation accepts.
module Dsl.Compiler.Tests.CompletionTests

open Expecto
open Dsl.Core
open Dsl.Compiler

let private next (line: string) =
    match Parser.tryParseTrainEntry line with
    | Some e -> TrainBlock.nextWords e
    | None -> failwithf "`%s` does not parse as a train line" line

let ``a train line continues with the words its validator asks for`` () =
    Expect.equal (next "optimizer") ([ "sgd"; "adam"; "rmsprop" ]) ""
    Expect.equal (next "optimizer sgd lr 0.1") ([ "momentum"; "nesterov"; "weight-decay" ]) ""
    Expect.equal (next "data fashion-mnist") ([ "resize"; "channels"; "validation" ]) ""
    Expect.equal (next "augment crop 28 from 32,") ([ "crop"; "flip"; "brightness"; "contrast"; "rotate"; "translate" ]) ""
    Expect.equal (next "augment flip") ([ "horizontal"; "vertical" ]) ""
    // A number comes next, the line is complete, or it is already wrong: nothing to offer.
    Expect.isEmpty (next "epochs") ""
    Expect.isEmpty (next "epochs 10") ""
    Expect.isEmpty (next "optimizer sdg") ""
    Expect.isEmpty (next "no-such-key") ""

let ``every word offered after a train key is accepted there`` () =
    let before = "network t\n  input 4\n  dense 2\n  softmax\ntrain\n  data synthetic 2\n"
    for key in TrainBlock.keys |> List.filter ((<>) "data") do
        for word in next key do
            try Frontend.compileText "t.model" None (before + sprintf "  %s %s\n" key word) |> ignore
            with ModelFileError (e :: _) -> Expect.isFalse (e.Message.Contains("unknown")) ("contains " + "unknown")

let ``a layer's options are its keys and flags`` () =
    Expect.equal ((Expand.layerOptions "conv").Value) ([ "kernel"; "stride"; "pad"; "groups"; "bias"; "floor"; "ceil" ]) ""
    Expect.equal ((Expand.layerOptions "relu").Value) ([]) ""
    Expect.equal (Expand.layerOptions "convolution") None ""

[<Tests>]
let tests =
    testList "CompletionTests" [
        testCase "a train line continues with the words its validator asks for" ``a train line continues with the words its validator asks for``
        testCase "every word offered after a train key is accepted there" ``every word offered after a train key is accepted there``
        testCase "a layer's options are its keys and flags" ``a layer's options are its keys and flags``
    ]
