/// Shapes and parameter counts checked against numbers computed by hand from the papers.
module Dsl.Compiler.Tests.ShapeTests

open Xunit
open Dsl.Core
open Dsl.Compiler
open Dsl.Compiler.Tests.TestUtil

let private shapesOf (inf: Shapes.Inferred) kinds =
    inf.Layers |> List.filter (fun l -> List.contains (Layer.keyword l.Node.Layer) kinds) |> List.map (fun l -> string l.Output)

[<Fact>]
let ``AlexNet has the paper's shapes and 60,965,224 parameters`` () =
    let inf = compileModel "alexnet.model" (Some 1000)
    let expected = [ "96x55x55"; "96x27x27"; "256x27x27"; "256x13x13"; "384x13x13"; "384x13x13"; "256x13x13"; "256x6x6"; "9216"; "4096"; "4096"; "1000" ]
    Assert.Equal<string list>(expected, shapesOf inf [ "conv"; "maxpool"; "flatten"; "dense" ])
    Assert.Equal(60_965_224L, inf.TotalParams)

[<Fact>]
let ``AlexNet without groups has 62,378,344 parameters`` () =
    let source = System.IO.File.ReadAllText(modelPath "alexnet.model")
    let inf = Frontend.compileText "alexnet-nogroups.model" (Some 1000) (source.Replace(" groups 2", ""))
    Assert.Equal(62_378_344L, inf.TotalParams)

[<Fact>]
let ``VGG16 written with let and repeat has 138,357,544 parameters`` () =
    let inf = compileModel "vgg16.model" (Some 1000)
    Assert.Equal(138_357_544L, inf.TotalParams)
    Assert.Equal(13, inf.Layers |> List.filter (fun l -> l.Node.Name.StartsWith "conv") |> List.length)
    Assert.Equal("512x7x7", shapesOf inf [ "maxpool" ] |> List.last)

[<Fact>]
let ``classes resolve from the data set`` () =
    let inf = compileModel "lenet.model" None
    Assert.Equal("10", string (List.last inf.Layers).Output)

[<Fact>]
let ``every example model checks`` () =
    for f in System.IO.Directory.GetFiles(System.IO.Path.Combine(repoRoot, "Models"), "*.model") do
        let inf, _ = Frontend.compileFile f (Some 7)
        Assert.True(inf.TotalParams > 0L, f)

[<Fact>]
let ``conv multiply-adds are K x C/g x R x S x Ho x Wo`` () =
    let inf = compileModel "alexnet.model" (Some 1000)
    let conv2 = inf.Layers |> List.find (fun l -> l.Node.Name = "conv2")
    Assert.Equal(256L * 48L * 25L * 27L * 27L, conv2.MultiplyAdds)

[<Fact>]
let ``pooling rounds down unless ceil is asked for`` () =
    let pool rounding = Frontend.compileText "p.model" (Some 10) (sprintf "network p\n  input 1 x 6 x 6\n  maxpool 3 stride 2 %s\n  flatten\n  dense classes\n  softmax\n" rounding)
    Assert.Equal("1x2x2", string pool("").Layers[0].Output)
    Assert.Equal("1x3x3", string pool("ceil").Layers[0].Output)

[<Fact>]
let ``layers from a let carry the network line that called them`` () =
    let inf = compileModel "vgg16.model" (Some 1000)
    Assert.Equal(8, inf.Layers[0].Node.Pos.Line)

[<Fact>]
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
    Assert.Equal<Node list>(fromFile.Nodes, fromCode.Nodes)
    Assert.Equal(fromFile.Input, fromCode.Input)
