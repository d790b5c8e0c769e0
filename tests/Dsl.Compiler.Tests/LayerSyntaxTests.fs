/// LayerSyntax: an expanded layer printed as a model-file line reads back as the same layer, defaults left out.
module Dsl.Compiler.Tests.LayerSyntaxTests

open Expecto
open Dsl.Core
open Dsl.Compiler

/// Every layer kind, and every option away from its default, as `dsl import` produces them.
let private layers: Layer list =
    [ Conv { Layer.convDefaults 6 with Kernel = (3, 3); Stride = (2, 2); Pad = (1, 1); Groups = 2; Bias = false; Rounding = Some Ceil }
      Conv { Layer.convDefaults 6 with Kernel = (11, 11); Rounding = Some Floor }
      Conv { Layer.convDefaults 6 with Kernel = (1, 1) }
      Pool { Layer.poolDefaults MaxPool 3 with Stride = (1, 1); Pad = (1, 1); Rounding = Ceil }
      Pool (Layer.poolDefaults AvgPool 2)
      Lrn { Size = 3; Alpha = 0.5; Beta = 0.75; K = 1.0 }
      Act Relu; Act Tanh; Act Sigmoid; Act (LeakyRelu 0.2)
      BatchNorm { Eps = 1e-3; Momentum = 0.01 }
      BatchNorm Layer.batchNormDefaults
      Flatten
      Dense { Units = 12; Bias = false }
      Dropout 0.3
      Dense { Units = 10; Bias = true }
      Softmax ]

let ``each layer reads back as itself`` () =
    let text =
        [ "network printed"; "  input 4 x 40 x 40" ] @ (layers |> List.map (fun l -> "  " + Printer.stmt (LayerSyntax.toStmt l)))
        |> String.concat "\n"
    let back = Frontend.compileText "printed.model" None text
    Expect.equal (back.Network.Nodes |> List.map (fun n -> n.Layer)) layers text

let ``defaults are left out`` () =
    let line l = Printer.stmt (LayerSyntax.toStmt l)
    Expect.equal (line (Conv { Layer.convDefaults 64 with Kernel = (3, 3); Pad = (1, 1) })) "conv 64 kernel 3 pad 1" "conv"
    Expect.equal (line (Pool (Layer.poolDefaults MaxPool 2))) "maxpool 2" "maxpool"
    Expect.equal (line (BatchNorm Layer.batchNormDefaults)) "batchnorm" "batchnorm"
    Expect.equal (line (Dense { Units = 10; Bias = true })) "dense 10" "dense"

let ``a window the language cannot say is an error, not a guess`` () =
    Expect.throwsT<System.ArgumentException> (fun () -> LayerSyntax.toStmt (Conv { Layer.convDefaults 4 with Kernel = (3, 5) }) |> ignore) "non-square"

[<Tests>]
let tests =
    testList "LayerSyntaxTests" [
        testCase "each layer reads back as itself" ``each layer reads back as itself``
        testCase "defaults are left out" ``defaults are left out``
        testCase "a window the language cannot say is an error, not a guess" ``a window the language cannot say is an error, not a guess``
    ]
