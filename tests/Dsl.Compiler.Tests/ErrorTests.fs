/// The malformed-file corpus: every mistake is reported at its exact line and column, says what is
/// wrong, and where we know the fix, hints at it.
module Dsl.Compiler.Tests.ErrorTests

open System
open Expecto
open Dsl.Core
open Dsl.Compiler

/// A model file from its lines.
let private file (lines: string list) = String.concat "\n" lines + "\n"

let private header = [ "network t"; "  input 3 x 32 x 32" ]
let private classifier = [ "  flatten"; "  dense classes"; "  softmax" ]
/// A valid network with `layers` between the input line and the classifier; they start on line 3.
let private net (layers: string list) = file (header @ layers @ classifier)
/// A valid network followed by a train block whose entries start on line 8.
let private withTrain (entries: string list) = file (header @ [ "  conv 8 kernel 3" ] @ classifier @ [ "train" ] @ entries)

let private compileWith classes source =
    try
        Frontend.compileText "test.model" classes source |> ignore
        failwithf "expected an error, but the model compiled:\n%s" source
    with ModelFileError errors ->
        Expect.isNonEmpty errors "errors"
        errors.Head

/// Asserts the first error is at (line, col), its message contains `gist`, and its hint contains `hint` (when given).
let private expectWith classes (line, col) (gist: string) (hint: string option) source =
    let e = compileWith classes source
    let shown = Diagnostics.render source e
    Expect.isTrue (e.Pos.Line = line && e.Pos.Col = col) (sprintf "expected the error at %d:%d, got:\n%s" line col shown)
    Expect.isTrue (e.Pos.File = "test.model") shown
    Expect.isTrue (e.Message.Contains(gist, StringComparison.Ordinal)) (sprintf "expected the message to contain %A, got:\n%s" gist shown)
    match hint with
    | Some h ->
        Expect.isTrue (e.Hint.IsSome && e.Hint.Value.Contains(h, StringComparison.Ordinal)) (sprintf "expected the hint to contain %A, got:\n%s" h shown)
    | None -> ()

let private expect at gist source = expectWith (Some 10) at gist None source
let private expectHint at gist hint source = expectWith (Some 10) at gist (Some hint) source

// ---- syntax ----

let ``a stray bracket is a syntax error at the bracket`` () =
    net [ "  conv 8 kernel 3 ]" ] |> expect (3, 19) "unexpected `]`"

let ``an unclosed parenthesis is reported at the end of the line`` () =
    net [ "  conv 8 kernel (3" ] |> expect (3, 19) "unexpected the end of the line; expected `)`"

let ``an extra closing parenthesis is reported where it stands`` () =
    net [ "  conv 8 kernel 3)" ] |> expect (3, 18) "unexpected `)`"

let ``an unclosed group is reported at the end of the file`` () =
    file (header @ [ "  (conv 8 kernel 3 |> relu" ]) |> expect (4, 1) "expected `)`"

let ``a pipe with nothing after it at the end of the file`` () =
    "network t\n  input 3 x 32 x 32\n  flatten |>" |> expect (3, 13) "unexpected the end of the file; expected a layer"

let ``a pipe followed by another pipe`` () =
    net [ "  conv 8 kernel 3 |> |> relu" ] |> expect (3, 22) "unexpected `|>`; expected a layer"

let ``then with nothing after it before the train block`` () =
    file (header @ [ "  conv 8 kernel 3 then"; "train" ]) |> expect (4, 1) "unexpected `train`; expected a layer"

let ``a number glued to a word`` () =
    net [ "  conv 8 kernel 3x3" ] |> expect (3, 18) "unexpected"

let ``a missing network line, with a hint`` () =
    file ([ "  input 3 x 32 x 32"; "  conv 8 kernel 3" ] @ classifier)
    |> expectHint (1, 3) "unexpected `input`; expected `let` or `network`" "begins with `network NAME`"

let ``an empty file asks for a network line`` () =
    "" |> expectHint (1, 1) "unexpected the end of the file" "`network NAME`"

let ``a control character is named by its code`` () =
    net [ "  conv 8 kernel 3 \u0007" ] |> expect (3, 19) "unexpected the character U+0007"

let ``parentheses nested too deep are an error, not a stack overflow`` () =
    let deep = String('(', 10_000) + "3" + String(')', 10_000)
    net [ "  conv 8 kernel " + deep ] |> expectHint (3, 49) "nest more than 32 deep" "`let`"

let ``repeats nested too deep are an error, not a stack overflow`` () =
    let deep = String.replicate 5_000 "repeat 1 " + "relu"
    net [ "  " + deep ] |> expect (3, 291) "nest more than 32 deep"

let ``a very long sum is an error, not a stack overflow`` () =
    let sum = String.replicate 100_000 "1 + " + "1"
    net [ "  conv 8 kernel 3 pad (" + sum + ")" ] |> expect (3, 23) "more than 256 operations deep"

// ---- layers and their arguments ----

let ``an unknown layer suggests the closest one`` () =
    net [ "  cnv 96 kernel 3" ] |> expectHint (3, 3) "unknown layer `cnv`" "did you mean `conv`?"

let ``an unknown layer suggests a let too`` () =
    file ([ "let convRelu n = conv n kernel 3 |> relu" ] @ header @ [ "  convrelu 8" ] @ classifier)
    |> expectHint (4, 3) "unknown layer `convrelu`" "did you mean `convRelu`?"

let ``an unknown option suggests the closest one`` () =
    net [ "  conv 96 kernl 11" ] |> expectHint (3, 11) "conv has no option `kernl`" "did you mean `kernel`?"

let ``an option given twice`` () =
    net [ "  conv 96 kernel 3 kernel 5" ] |> expectHint (3, 20) "conv has `kernel` twice" "keep one"

let ``an option without a value`` () =
    net [ "  conv 96 kernel" ] |> expect (3, 11) "`kernel` needs a value"

let ``an option followed by another option has no value`` () =
    net [ "  conv 96 kernel stride 2" ] |> expect (3, 11) "`kernel` needs a value"

let ``a fractional filter count`` () =
    net [ "  conv 96.5 kernel 3" ] |> expectHint (3, 8) "conv filters must be a whole number, got 96.5" "`conv 96`"

let ``a fractional option value`` () =
    net [ "  conv 8 kernel 2.5" ] |> expectHint (3, 17) "conv kernel must be a whole number, got 2.5" "`kernel 2`"

let ``a dropout rate outside 0 to 1`` () =
    net [ "  dropout 1.5" ] |> expect (3, 11) "dropout rate must be in [0, 1), got 1.5"

let ``a dropout rate that is not a number`` () =
    net [ "  dropout (0.0 / 0.0)" ] |> expect (3, 16) "division by zero"

let ``bias must be on or off`` () =
    net [ "  conv 8 kernel 3 bias maybe" ] |> expectHint (3, 24) "conv bias is on or off, got `maybe`" "`bias on` or `bias off`"

let ``bias given a number other than 0 or 1`` () =
    net [ "  conv 8 kernel 3 bias 2" ] |> expect (3, 24) "conv bias is on or off, got 2"

let ``too many arguments for conv`` () =
    net [ "  conv 8 3 kernel 3" ] |> expectHint (3, 10) "too many arguments for conv" "conv takes 1 argument (filters)"

let ``an argument to a layer that takes none`` () =
    net [ "  conv 8 kernel 3 |> relu 3" ] |> expectHint (3, 27) "too many arguments for relu" "relu takes no arguments"

let ``conv without filters or without a kernel`` () =
    net [ "  conv kernel 3" ] |> expectHint (3, 3) "conv needs the number of filters" "`conv 64 kernel 3`"
    net [ "  conv 8" ] |> expectHint (3, 3) "conv needs a kernel size" "`kernel 3`"

let ``a stride of zero`` () =
    net [ "  conv 8 kernel 3 stride 0" ] |> expectHint (3, 26) "conv stride must be at least 1, got 0" "`stride 1` or more"

let ``floor and ceil together`` () =
    net [ "  maxpool 2 floor ceil" ] |> expect (3, 19) "either down or up, not both"

let ``a pool without a window size`` () =
    net [ "  maxpool stride 2" ] |> expectHint (3, 3) "maxpool needs a window size" "`maxpool 2`"
    net [ "  conv 8 kernel 3 |> avgpool" ] |> expectHint (3, 22) "avgpool needs a window size" "`avgpool 2`"

let ``pool padding over half the window`` () =
    net [ "  maxpool 2 pad 2" ] |> expect (3, 17) "pad 2 is more than half the window 2"

let ``lrn with an even size`` () =
    net [ "  lrn size 4" ] |> expectHint (3, 12) "lrn size must be odd, got 4" "3, 5, 7"

let ``lrn with k of zero`` () =
    net [ "  lrn k 0" ] |> expect (3, 9) "lrn k must be positive"

let ``repeat zero times`` () =
    net [ "  repeat 0 (conv 8 kernel 3)" ] |> expectHint (3, 10) "repeat needs a whole count of at least 1, got 0" "repeat 3"

let ``a network that expands to too many layers`` () =
    net [ "  repeat 1000 (repeat 1000 (relu))" ] |> expect (3, 10) "more than 100000 layers"

// ---- arithmetic and names ----

let ``an undefined name in an argument`` () =
    net [ "  conv m kernel 3" ] |> expect (3, 8) "unknown name `m`"

let ``an undefined name inside a let suggests a parameter`` () =
    file ([ "let block depth = conv 8 kernel dept" ] @ header @ [ "  block 3" ] @ classifier)
    |> expectHint (1, 33) "unknown name `dept`" "did you mean `depth`?"

let ``division by zero`` () =
    net [ "  conv 8 kernel (3 / 0)" ] |> expect (3, 20) "division by zero"

let ``whole-number overflow is an error, not a wrapped value`` () =
    net [ "  conv (100000 * 100000) kernel 3" ] |> expect (3, 16) "overflows a whole number"

let ``a literal too large for a whole number`` () =
    net [ "  conv 99999999999 kernel 3" ] |> expect (3, 8) "too large for a whole number"

let ``classes is unknown without a data set`` () =
    net [ "  conv 8 kernel 3" ]
    |> expectWith None (5, 9) "the number of classes is not known here" (Some "--classes N")

let ``classes is unknown with a folder data set`` () =
    file (header @ [ "  conv 8 kernel 3" ] @ classifier @ [ "train"; "  data folder \"images\"" ])
    |> expectWith None (5, 9) "the number of classes is not known here" (Some "data fashion-mnist")

// ---- let ----

let ``a let that calls itself`` () =
    file ([ "let f n = conv n kernel 3 then f n" ] @ header @ [ "  f 8" ] @ classifier)
    |> expectHint (1, 32) "`f` calls itself: f -> f" "cannot be recursive"

let ``lets that call each other`` () =
    file ([ "let f n = g n"; "let g n = conv n kernel 3 |> f n" ] @ header @ [ "  f 8" ] @ classifier)
    |> expectHint (2, 30) "`f` calls itself: f -> g -> f" "cannot be recursive"

let ``a three-step cycle names every step`` () =
    file ([ "let a = b"; "let b = c"; "let c = relu then a" ] @ header @ [ "  a" ] @ classifier)
    |> expect (3, 19) "`a` calls itself: a -> b -> c -> a"

let ``a let called with the wrong number of arguments`` () =
    file ([ "let f n k = conv n kernel k" ] @ header @ [ "  f 8" ] @ classifier)
    |> expectHint (4, 3) "`f` takes 2 argument(s), got 1" "defined at line 1 as `let f n k`"

let ``a let named like a built-in layer`` () =
    file ([ "let relu = conv 8 kernel 3" ] @ header @ [ "  relu" ] @ classifier)
    |> expect (1, 1) "`let relu` would hide the built-in layer relu"

let ``a let defined twice`` () =
    file ([ "let f = relu"; "let f = tanh" ] @ header @ [ "  f" ] @ classifier)
    |> expect (2, 1) "`f` is defined twice (first at line 1)"

let ``a let with two parameters of the same name`` () =
    file ([ "let f n n = conv n kernel 3" ] @ header @ [ "  f 8 8" ] @ classifier)
    |> expect (1, 9) "two parameters named `n`"

let ``a long chain of lets is an error, not a stack overflow`` () =
    let lets = [ for i in 1 .. 5000 -> sprintf "let f%d = f%d" i (i + 1) ] @ [ "let f5001 = relu" ]
    let e = compileWith (Some 10) (file (lets @ header @ [ "  f1" ] @ classifier))
    Expect.stringContains e.Message "let calls nest more than 32 deep" "e.Message"

// ---- network structure and shapes ----

let ``a missing input line`` () =
    file ([ "network t"; "  conv 8 kernel 3" ] @ classifier)
    |> expectHint (1, 9) "network t has no input line" "input 3 x 227 x 227"

let ``an input with two dimensions`` () =
    file ([ "network t"; "  input 3 x 32"; "  flatten"; "  dense 10" ]) |> expectHint (2, 3) "input has 2 dimensions" "input C x H x W"

let ``an input too large to count`` () =
    file ([ "network t"; "  input 100000 x 100000 x 100000"; "  flatten"; "  dense 10" ]) |> expect (2, 3) "more than 2147483647 elements"

let ``a network without layers`` () =
    file [ "network t"; "  input 3 x 32 x 32" ] |> expect (1, 9) "network t has no layers"

let ``a kernel larger than its input`` () =
    net [ "  conv 8 kernel 33" ] |> expect (3, 3) "conv window 33 is larger than its height input 32"

let ``a conv whose output size is not whole`` () =
    file ([ "network t"; "  input 3 x 224 x 224"; "  conv 96 kernel 11 stride 4" ] @ classifier)
    |> expectHint (3, 3) "conv output height (224 + 2*0 - 11) / 4 + 1 = 54.25 is not a whole number" "add `floor` or `ceil`"

let ``dense on an unflattened input`` () =
    file (header @ [ "  conv 8 kernel 3"; "  dense 10"; "  softmax" ])
    |> expectHint (4, 3) "dense expects a flat input, got 8x30x30" "add `flatten` before it"

let ``a shape error inside a let points at the calling line`` () =
    file ([ "let head = dense 10 |> softmax" ] @ header @ [ "  head" ])
    |> expectHint (4, 3) "dense expects a flat input, got 3x32x32" "add `flatten`"

let ``conv after flatten`` () =
    file (header @ [ "  flatten"; "  conv 8 kernel 3" ] @ classifier) |> expectHint (4, 3) "conv expects a CxHxW input" "move conv before flatten"

let ``groups that do not divide the input channels`` () =
    net [ "  conv 8 kernel 3 groups 2" ] |> expect (3, 3) "conv groups 2 do not divide its 3 input channels"

let ``groups that do not divide the filters`` () =
    file ([ "network t"; "  input 4 x 32 x 32"; "  conv 9 kernel 3 groups 2" ] @ classifier)
    |> expect (3, 3) "conv groups 2 do not divide its 9 filters"

let ``softmax that is not the last layer`` () =
    file (header @ [ "  flatten"; "  softmax"; "  dense 10" ]) |> expect (4, 3) "softmax must be the last layer"

let ``softmax on an image`` () =
    file (header @ [ "  softmax" ]) |> expectHint (3, 3) "softmax expects a flat input, got 3x32x32" "add `flatten`"

let ``a conv output too large to count`` () =
    file ([ "network t"; "  input 1 x 1 x 1"; "  conv 2000000000 kernel 1 pad 10" ] @ classifier) |> expect (3, 3) "more than 2147483647 elements"

// ---- train block ----

let ``an unknown train key suggests the closest`` () =
    withTrain [ "  optimiser sgd lr 0.01" ] |> expectHint (8, 3) "unknown train key `optimiser`" "did you mean `optimizer`?"

let ``an unknown optimizer`` () =
    withTrain [ "  optimizer sgdd lr 0.01" ] |> expectHint (8, 13) "optimizer: unknown optimizer `sgdd`" "did you mean `sgd`?"

let ``an unknown optimizer option`` () =
    withTrain [ "  optimizer sgd lr 0.01 momentm 0.9" ] |> expectHint (8, 25) "optimizer: unknown option `momentm`" "did you mean `momentum`?"

let ``batch zero`` () =
    withTrain [ "  batch 0" ] |> expectHint (8, 9) "batch: batch must be at least 1, got 0" "`1` or more"

let ``negative epochs`` () =
    withTrain [ "  epochs -1" ] |> expect (8, 10) "epochs: epochs must be at least 1, got -1"

let ``fractional epochs`` () =
    withTrain [ "  epochs 2.5" ] |> expect (8, 10) "epochs must be a whole number, got `2.5`"

let ``epochs too large`` () =
    withTrain [ "  epochs 99999999999" ] |> expect (8, 10) "epochs: epochs is too large"

let ``a train key given twice`` () =
    withTrain [ "  epochs 10"; "  batch 32"; "  epochs 20" ] |> expectHint (10, 3) "`epochs` is set twice (first at line 8)" "keep one"

let ``a train value that is missing`` () =
    withTrain [ "  batch" ] |> expectHint (8, 3) "`batch` needs a value" "`batch 64`"
    withTrain [ "  optimizer sgd lr" ] |> expectHint (8, 3) "optimizer: lr is missing at the end of the line" "`optimizer sgd lr 0.01 momentum 0.9`"

let ``extra words at the end of a train line`` () =
    withTrain [ "  epochs 10 20" ] |> expect (8, 13) "epochs: unexpected `20` at the end of the line"

let ``a learning rate that is not positive`` () =
    withTrain [ "  optimizer adam lr 0" ] |> expect (8, 21) "optimizer: lr must be positive, got 0"

/// Numbers outside what an optimiser or schedule can use (PyTorch's optimisers refuse the same ranges): each at its
/// column, with a typical value as the hint. Columns counted by hand from the lines below.
let ``optimiser numbers out of range`` () =
    let cases =
        [ "  optimizer sgd lr 0.01 momentum -1", 34, "momentum is a fraction in [0, 1), got -1", "`momentum 0.9`"
          "  optimizer sgd lr 0.01 momentum 1", 34, "momentum is a fraction in [0, 1), got 1", "`momentum 0.9`"
          "  optimizer sgd lr 0.01 weight-decay -1", 38, "weight-decay must not be negative, got -1", "or 0 for none"
          "  optimizer sgd lr -0.1", 20, "lr must be positive, got -0.1", "`lr 0.01`"
          "  optimizer adam beta1 1", 24, "beta1 is a fraction in [0, 1), got 1", "`beta1 0.9`"
          "  optimizer adam beta2 -0.5", 24, "beta2 is a fraction in [0, 1), got -0.5", "`beta2 0.999`"
          "  optimizer adam eps 0", 22, "eps must be positive, got 0", "`eps 1e-8`"
          "  optimizer rmsprop rho 1.5", 25, "rho is a fraction in [0, 1), got 1.5", "`rho 0.99`"
          "  optimizer rmsprop momentum 0.5 weight-decay -0.01", 47, "weight-decay must not be negative, got -0.01", "or 0 for none"
          "  schedule cosine min-lr -1", 26, "min-lr must not be negative, got -1", "`min-lr 0.1`" ]
    for line, col, gist, hint in cases do withTrain [ line ] |> expectHint (8, col) gist hint
    // The edges that are allowed still compile.
    for line in [ "  optimizer sgd lr 0.01 momentum 0 weight-decay 0"; "  optimizer adam beta1 0 beta2 0.999999"; "  schedule cosine min-lr 0" ] do
        Frontend.compileText "test.model" (Some 10) (withTrain [ line ]) |> ignore

let ``an unterminated string in the train block`` () =
    withTrain [ "  data folder \"images" ] |> expect (8, 22) "unexpected the end of the line; expected `\"`"

// ---- rendering ----

let ``errors render as file:line:col with the line and a caret under the column`` () =
    let source = net [ "  conv 96 kernl 11" ]
    let e = compileWith (Some 10) source
    let text = Diagnostics.render source e
    let lines = text.Replace("\r\n", "\n").Split('\n')
    Expect.stringStarts (lines[0]) "test.model:3:11: error: conv has no option `kernl`" "lines[0]"
    Expect.equal (lines[1]) "   3 |   conv 96 kernl 11" "lines[1]"
    // The caret is under the `k` of `kernl`.
    let caret = lines[2].IndexOf '^'
    Expect.equal caret (lines[1].IndexOf "kernl") "caret"
    Expect.equal (lines[3]) "  hint: did you mean `kernel`?" "lines[3]"

let ``rendering keeps tabs so the caret lines up, and survives odd positions`` () =
    let source = "network t\n\tinput 3 x 32 x 32\n\tconv 8 kernl 3\n"
    let e = compileWith (Some 10) source
    Expect.equal (e.Pos.Line, e.Pos.Col) (3, 9) "(e.Pos.Line, e.Pos.Col)"
    let lines = (Diagnostics.render source e).Split('\n')
    Expect.equal (lines[2]) "     | \t       ^" "lines[2]"
    // A position past the end of the line or the file, or at column 0, still renders.
    for line, col in [ 3, 200; 99, 1; 1, 0; 0, 0 ] do
        let text = Diagnostics.render source { e with Pos = { e.Pos with Line = line; Col = col } }
        Expect.stringContains text (sprintf "test.model:%d:%d" line col) "text"

/// A generated file's line can be tens of megabytes: the message and the echoed line are cut to a window around the
/// column, and the caret still stands under the column's character.
let ``a megabyte line is echoed as a window around the column`` () =
    let word = String('x', 1_000_000)
    let source = net [ "  dense 4 " + word ]
    let text = Diagnostics.render source (compileWith (Some 10) source)
    Expect.isLessThan text.Length 600 (sprintf "rendered %d characters" text.Length)
    Expect.stringContains text "(1000002 characters)" "the cut word (in its backticks) says its length"
    let lines = text.Split('\n')
    Expect.stringStarts (lines[1]) "   3 |   dense 4 xxx" "the line's start"
    Expect.stringEnds (lines[1]) "x…" "the cut is marked"
    Expect.equal (lines[2].IndexOf '^') (lines[1].IndexOf 'x') "caret under the word"
    // A column deep inside the line: the window is around it, marked at both ends, the caret under its character.
    let deep = String('a', 500_000) + "Z" + String('b', 500_000)
    let e = { Pos = { File = "test.model"; Line = 1; Col = 500_001 }; Message = "m"; Hint = None }
    let lines = (Diagnostics.render deep e).Split('\n')
    Expect.isLessThan (lines[1].Length) 140 "the echoed line"
    Expect.stringContains (lines[1]) "…a" "cut before"
    Expect.stringEnds (lines[1]) "b…" "cut after"
    Expect.equal (lines[1][lines[2].IndexOf '^']) 'Z' "the caret's character"

let ``lines end in CR LF or a lone CR as well as LF`` () =
    for nl in [ "\r\n"; "\r" ] do
        let source = String.concat nl [ "network t"; "  input 3 x 32 x 32"; "  cnv 8 kernel 3"; "" ]
        let e = compileWith (Some 10) source
        Expect.equal (e.Pos.Line, e.Pos.Col) (3, 3) "(e.Pos.Line, e.Pos.Col)"
        Expect.stringContains (Diagnostics.render source e) "   3 |   cnv 8 kernel 3" "Diagnostics.render source e"

[<Tests>]
let tests =
    testList "ErrorTests" [
        testCase "a stray bracket is a syntax error at the bracket" ``a stray bracket is a syntax error at the bracket``
        testCase "an unclosed parenthesis is reported at the end of the line" ``an unclosed parenthesis is reported at the end of the line``
        testCase "an extra closing parenthesis is reported where it stands" ``an extra closing parenthesis is reported where it stands``
        testCase "an unclosed group is reported at the end of the file" ``an unclosed group is reported at the end of the file``
        testCase "a pipe with nothing after it at the end of the file" ``a pipe with nothing after it at the end of the file``
        testCase "a pipe followed by another pipe" ``a pipe followed by another pipe``
        testCase "then with nothing after it before the train block" ``then with nothing after it before the train block``
        testCase "a number glued to a word" ``a number glued to a word``
        testCase "a missing network line, with a hint" ``a missing network line, with a hint``
        testCase "an empty file asks for a network line" ``an empty file asks for a network line``
        testCase "a control character is named by its code" ``a control character is named by its code``
        testCase "parentheses nested too deep are an error, not a stack overflow" ``parentheses nested too deep are an error, not a stack overflow``
        testCase "repeats nested too deep are an error, not a stack overflow" ``repeats nested too deep are an error, not a stack overflow``
        testCase "a very long sum is an error, not a stack overflow" ``a very long sum is an error, not a stack overflow``
        testCase "an unknown layer suggests the closest one" ``an unknown layer suggests the closest one``
        testCase "an unknown layer suggests a let too" ``an unknown layer suggests a let too``
        testCase "an unknown option suggests the closest one" ``an unknown option suggests the closest one``
        testCase "an option given twice" ``an option given twice``
        testCase "an option without a value" ``an option without a value``
        testCase "an option followed by another option has no value" ``an option followed by another option has no value``
        testCase "a fractional filter count" ``a fractional filter count``
        testCase "a fractional option value" ``a fractional option value``
        testCase "a dropout rate outside 0 to 1" ``a dropout rate outside 0 to 1``
        testCase "a dropout rate that is not a number" ``a dropout rate that is not a number``
        testCase "bias must be on or off" ``bias must be on or off``
        testCase "bias given a number other than 0 or 1" ``bias given a number other than 0 or 1``
        testCase "too many arguments for conv" ``too many arguments for conv``
        testCase "an argument to a layer that takes none" ``an argument to a layer that takes none``
        testCase "conv without filters or without a kernel" ``conv without filters or without a kernel``
        testCase "a stride of zero" ``a stride of zero``
        testCase "floor and ceil together" ``floor and ceil together``
        testCase "a pool without a window size" ``a pool without a window size``
        testCase "pool padding over half the window" ``pool padding over half the window``
        testCase "lrn with an even size" ``lrn with an even size``
        testCase "lrn with k of zero" ``lrn with k of zero``
        testCase "repeat zero times" ``repeat zero times``
        testCase "a network that expands to too many layers" ``a network that expands to too many layers``
        testCase "an undefined name in an argument" ``an undefined name in an argument``
        testCase "an undefined name inside a let suggests a parameter" ``an undefined name inside a let suggests a parameter``
        testCase "division by zero" ``division by zero``
        testCase "whole-number overflow is an error, not a wrapped value" ``whole-number overflow is an error, not a wrapped value``
        testCase "a literal too large for a whole number" ``a literal too large for a whole number``
        testCase "classes is unknown without a data set" ``classes is unknown without a data set``
        testCase "classes is unknown with a folder data set" ``classes is unknown with a folder data set``
        testCase "a let that calls itself" ``a let that calls itself``
        testCase "lets that call each other" ``lets that call each other``
        testCase "a three-step cycle names every step" ``a three-step cycle names every step``
        testCase "a let called with the wrong number of arguments" ``a let called with the wrong number of arguments``
        testCase "a let named like a built-in layer" ``a let named like a built-in layer``
        testCase "a let defined twice" ``a let defined twice``
        testCase "a let with two parameters of the same name" ``a let with two parameters of the same name``
        testCase "a long chain of lets is an error, not a stack overflow" ``a long chain of lets is an error, not a stack overflow``
        testCase "a missing input line" ``a missing input line``
        testCase "an input with two dimensions" ``an input with two dimensions``
        testCase "an input too large to count" ``an input too large to count``
        testCase "a network without layers" ``a network without layers``
        testCase "a kernel larger than its input" ``a kernel larger than its input``
        testCase "a conv whose output size is not whole" ``a conv whose output size is not whole``
        testCase "dense on an unflattened input" ``dense on an unflattened input``
        testCase "a shape error inside a let points at the calling line" ``a shape error inside a let points at the calling line``
        testCase "conv after flatten" ``conv after flatten``
        testCase "groups that do not divide the input channels" ``groups that do not divide the input channels``
        testCase "groups that do not divide the filters" ``groups that do not divide the filters``
        testCase "softmax that is not the last layer" ``softmax that is not the last layer``
        testCase "softmax on an image" ``softmax on an image``
        testCase "a conv output too large to count" ``a conv output too large to count``
        testCase "an unknown train key suggests the closest" ``an unknown train key suggests the closest``
        testCase "an unknown optimizer" ``an unknown optimizer``
        testCase "an unknown optimizer option" ``an unknown optimizer option``
        testCase "batch zero" ``batch zero``
        testCase "negative epochs" ``negative epochs``
        testCase "fractional epochs" ``fractional epochs``
        testCase "epochs too large" ``epochs too large``
        testCase "a train key given twice" ``a train key given twice``
        testCase "a train value that is missing" ``a train value that is missing``
        testCase "extra words at the end of a train line" ``extra words at the end of a train line``
        testCase "a learning rate that is not positive" ``a learning rate that is not positive``
        testCase "optimiser numbers out of range" ``optimiser numbers out of range``
        testCase "an unterminated string in the train block" ``an unterminated string in the train block``
        testCase "errors render as file:line:col with the line and a caret under the column" ``errors render as file:line:col with the line and a caret under the column``
        testCase "rendering keeps tabs so the caret lines up, and survives odd positions" ``rendering keeps tabs so the caret lines up, and survives odd positions``
        testCase "a megabyte line is echoed as a window around the column" ``a megabyte line is echoed as a window around the column``
        testCase "lines end in CR LF or a lone CR as well as LF" ``lines end in CR LF or a lone CR as well as LF``
    ]
