/// Shapes and parameter counts checked against numbers computed by hand from the papers.
module Dsl.Compiler.Tests.ShapeTests

open Expecto
open Dsl.Core
open Dsl.Compiler
open Dsl.Compiler.Tests.TestUtil

let private shapesOf (inf: Shapes.Inferred) kinds =
    inf.Layers |> List.filter (fun l -> List.contains (Layer.keyword l.Node.Layer) kinds) |> List.map (fun l -> string l.Output)

let ``AlexNet has the paper's shapes and 60,965,224 parameters`` () =
    let inf = compileModel "alexnet.model" (Some 1000)
    let expected = [ "96x55x55"; "96x27x27"; "256x27x27"; "256x13x13"; "384x13x13"; "384x13x13"; "256x13x13"; "256x6x6"; "9216"; "4096"; "4096"; "1000" ]
    Expect.equal (shapesOf inf [ "conv"; "maxpool"; "flatten"; "dense" ]) expected ""
    Expect.equal inf.TotalParams (60_965_224L) "inf.TotalParams"

let ``AlexNet without groups has 62,378,344 parameters`` () =
    let source = System.IO.File.ReadAllText(modelPath "alexnet.model")
    let inf = Frontend.compileText "alexnet-nogroups.model" (Some 1000) (source.Replace(" groups 2", ""))
    Expect.equal inf.TotalParams (62_378_344L) "inf.TotalParams"

let ``VGG16 written with let and repeat has 138,357,544 parameters`` () =
    let inf = compileModel "vgg16.model" (Some 1000)
    Expect.equal inf.TotalParams (138_357_544L) "inf.TotalParams"
    Expect.equal (inf.Layers |> List.filter (fun l -> l.Node.Name.StartsWith "conv") |> List.length) 13 ""
    Expect.equal (shapesOf inf [ "maxpool" ] |> List.last) "512x7x7" ""

let ``classes resolve from the data set`` () =
    let inf = compileModel "lenet.model" None
    Expect.equal (string (List.last inf.Layers).Output) "10" "string (List.last inf.Layers).Output"

let ``every example model checks`` () =
    for f in System.IO.Directory.GetFiles(System.IO.Path.Combine(repoRoot, "Models"), "*.model") do
        let inf, _ = Frontend.compileFile f (Some 7)
        Expect.isTrue (inf.TotalParams > 0L) f

let ``conv multiply-adds are K x C/g x R x S x Ho x Wo`` () =
    let inf = compileModel "alexnet.model" (Some 1000)
    let conv2 = inf.Layers |> List.find (fun l -> l.Node.Name = "conv2")
    Expect.equal conv2.MultiplyAdds (256L * 48L * 25L * 27L * 27L) "conv2.MultiplyAdds"

let ``pooling rounds down unless ceil is asked for`` () =
    let pool rounding = Frontend.compileText "p.model" (Some 10) (sprintf "network p\n  input 1 x 6 x 6\n  maxpool 3 stride 2 %s\n  flatten\n  dense classes\n  softmax\n" rounding)
    Expect.equal (string pool("").Layers[0].Output) "1x2x2" ""
    Expect.equal (string pool("ceil").Layers[0].Output) "1x3x3" ""

let ``layers from a let carry the network line that called them`` () =
    let inf = compileModel "vgg16.model" (Some 1000)
    Expect.equal (inf.Layers[0].Node.Pos.Line) 8 "inf.Layers[0].Node.Pos.Line"

let ``the F# combinators build the same network as the model file`` () =
    let fromFile = (compileModel "alexnet.model" (Some 1000)).Network
    let lrnPaper = Build.lrn [ Build.size 5; Build.alpha 1e-4; Build.beta 0.75; Build.k 2.0 ]
    let fromCode =
        Build.network "alexnet" (Build.input 3 227 227) [
            Build.conv 96 [ Build.kernel 11; Build.stride 4 ]; Build.relu; lrnPaper
            Build.maxpool 3 [ Build.stride 2 ]
            Build.conv 256 [ Build.kernel 5; Build.pad 2; Build.groups 2 ]; Build.relu; lrnPaper
            Build.maxpool 3 [ Build.stride 2 ]
            Build.conv 384 [ Build.kernel 3; Build.pad 1 ]; Build.relu
            Build.conv 384 [ Build.kernel 3; Build.pad 1; Build.groups 2 ]; Build.relu
            Build.conv 256 [ Build.kernel 3; Build.pad 1; Build.groups 2 ]; Build.relu
            Build.maxpool 3 [ Build.stride 2 ]
            Build.flatten
            Build.dense 4096 []; Build.relu; Build.dropout 0.5
            Build.dense 4096 []; Build.relu; Build.dropout 0.5
            Build.dense 1000 []
            Build.softmax ]
    Expect.equal fromCode.Nodes fromFile.Nodes "fromCode.Nodes"
    Expect.equal fromCode.Input fromFile.Input "fromCode.Input"

[<Tests>]
let tests =
    testList "ShapeTests" [
        testCase "AlexNet has the paper's shapes and 60,965,224 parameters" ``AlexNet has the paper's shapes and 60,965,224 parameters``
        testCase "AlexNet without groups has 62,378,344 parameters" ``AlexNet without groups has 62,378,344 parameters``
        testCase "VGG16 written with let and repeat has 138,357,544 parameters" ``VGG16 written with let and repeat has 138,357,544 parameters``
        testCase "classes resolve from the data set" ``classes resolve from the data set``
        testCase "every example model checks" ``every example model checks``
        testCase "conv multiply-adds are K x C/g x R x S x Ho x Wo" ``conv multiply-adds are K x C/g x R x S x Ho x Wo``
        testCase "pooling rounds down unless ceil is asked for" ``pooling rounds down unless ceil is asked for``
        testCase "layers from a let carry the network line that called them" ``layers from a let carry the network line that called them``
        testCase "the F# combinators build the same network as the model file" ``the F# combinators build the same network as the model file``
    ]
