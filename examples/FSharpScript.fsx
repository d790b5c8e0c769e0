// AlexNet built in F# code with the combinators of Dsl.Core, its summary printed.
//   dotnet build Dsl.Compiler -c Release && dotnet fsi examples/FSharpScript.fsx
#r "../Dsl.Compiler/bin/Release/net10.0/Dsl.Core.dll"
#r "../Dsl.Compiler/bin/Release/net10.0/Dsl.Compiler.dll"
#r "../Dsl.Compiler/bin/Release/net10.0/FParsec.dll"
#r "../Dsl.Compiler/bin/Release/net10.0/FParsecCS.dll"

open Dsl.Core.Build
open Dsl.Compiler

let lrnPaper = lrn [ size 5; alpha 1e-4; beta 0.75; k 2.0 ]

let alexnet classes =
    network "alexnet" (input 3 227 227) [
        conv 96 [ kernel 11; stride 4 ]; relu; lrnPaper
        maxpool 3 [ stride 2 ]
        conv 256 [ kernel 5; pad 2; groups 2 ]; relu; lrnPaper
        maxpool 3 [ stride 2 ]
        conv 384 [ kernel 3; pad 1 ]; relu
        // Functions and lists are F#'s own: the two grouped 3x3 convolutions as one expression.
        yield! [ 384; 256 ] |> List.collect (fun n -> [ conv n [ kernel 3; pad 1; groups 2 ]; relu ])
        maxpool 3 [ stride 2 ]
        flatten
        yield! List.replicate 2 [ dense 4096 []; relu; dropout 0.5 ] |> List.concat
        dense classes []
        softmax ]

let inferred = Shapes.infer (alexnet 1000)
printfn "%-10s %-12s %14s %16s" "layer" "output" "parameters" "multiply-adds"
for l in inferred.Layers do
    printfn "%-10s %-12O %14d %16d" l.Node.Name l.Output l.Params l.MultiplyAdds
printfn "total: %d parameters, %d multiply-adds per image" inferred.TotalParams inferred.TotalMultiplyAdds
