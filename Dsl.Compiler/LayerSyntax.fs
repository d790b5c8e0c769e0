/// An expanded layer back to the words a model file would use for it, defaults left out, so that
/// `Printer.stmt` writes it and the parser reads back the same layer. Code that produces layers
/// rather than text (`dsl import`) writes its model files through this.
module Dsl.Compiler.LayerSyntax

open Dsl.Core
open Dsl.Core.Syntax

let private int (v: int) = Atom(Num(float v, true, Pos.None))
let private real (v: float) = Atom(Num(v, false, Pos.None))
let private key k = Atom(Ref(k, Pos.None))

/// A square option; the language has no separate height and width.
let private square what (layer: string) (h: int, w: int) =
    if h <> w then invalidArg "layer" (sprintf "%s has %s %dx%d; a model file can only say square %ss" layer what h w what)
    h

let private rounding =
    function
    | Some Floor -> [ key "floor" ]
    | Some Ceil -> [ key "ceil" ]
    | None -> []

/// `Pos.None` throughout: the statement is for printing, not for error messages.
let toStmt (layer: Layer) : Stmt =
    let words: Word list =
        match layer with
        | Conv c ->
            let d = Layer.convDefaults c.Filters
            [ int c.Filters; key "kernel"; int (square "kernel" "conv" c.Kernel)
              if c.Stride <> d.Stride then yield! [ key "stride"; int (square "stride" "conv" c.Stride) ]
              if c.Pad <> d.Pad then yield! [ key "pad"; int (square "pad" "conv" c.Pad) ]
              if c.Groups <> d.Groups then yield! [ key "groups"; int c.Groups ]
              if not c.Bias then yield! [ key "bias"; key "off" ]
              yield! rounding c.Rounding ]
        | Pool p ->
            let size = square "window" (Layer.keyword layer) p.Size
            [ int size
              if p.Stride <> (size, size) then yield! [ key "stride"; int (square "stride" (Layer.keyword layer) p.Stride) ]
              if p.Pad <> (0, 0) then yield! [ key "pad"; int (square "pad" (Layer.keyword layer) p.Pad) ]
              if p.Rounding = Ceil then key "ceil" ]
        | Lrn l -> [ key "size"; int l.Size; key "alpha"; real l.Alpha; key "beta"; real l.Beta; key "k"; real l.K ]
        | Dense d -> [ int d.Units; if not d.Bias then yield! [ key "bias"; key "off" ] ]
        | Dropout r -> [ real r ]
        | Act (LeakyRelu slope) -> [ real slope ]
        | BatchNorm b ->
            let d = Layer.batchNormDefaults
            [ if b.Eps <> d.Eps then yield! [ key "eps"; real b.Eps ]
              if b.Momentum <> d.Momentum then yield! [ key "momentum"; real b.Momentum ] ]
        | Act _ | Flatten | Softmax -> []
    Call(Layer.keyword layer, words, Pos.None)
