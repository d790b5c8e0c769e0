/// The printer is the parser's inverse: any syntax tree the parser can produce, printed and parsed
/// again, gives the same tree; the example models survive the trip and compile to the same network.
module Dsl.Compiler.Tests.RoundTripTests

open System
open System.IO
open Expecto
open FsCheck
open FsCheck.FSharp
open Dsl.Core
open Dsl.Core.Syntax
open Dsl.Compiler
open Dsl.Compiler.Tests.TestUtil

let private at = Pos.None

// ---- generators of syntax trees the grammar can express ----

let private letters = [ 'a' .. 'z' ] @ [ 'A' .. 'Z' ] @ [ '_' ]
let private alnum = letters @ [ '0' .. '9' ]

/// A word as the lexer reads it, keywords included: `[A-Za-z_][A-Za-z0-9_]*(-[A-Za-z][A-Za-z0-9_]*)*`.
let private rawName =
    let chars first rest = gen {
        let! h = Gen.elements first
        let! n = Gen.choose (0, 6)
        let! t = Gen.listOfLength n (Gen.elements rest)
        return String(Array.ofList (h :: t)) }
    gen {
        let! head = chars letters alnum
        let! parts = Gen.choose (0, 2)
        let! tail = Gen.listOfLength parts (chars ([ 'a' .. 'z' ] @ [ 'A' .. 'Z' ]) alnum)
        let name = String.concat "-" (head :: tail)
        // Keywords and layer names turn up often enough to matter.
        let! common = Gen.elements [ "x"; "conv"; "relu"; "kernel"; "classes"; "on"; "leaky-relu"; "then"; "let"; "repeat"; "input"; "network"; "train" ]
        let! pick = Gen.choose (0, 4)
        return if pick = 0 then common else name }

let private name = rawName |> Gen.filter (Parser.reserved.Contains >> not)

let private wholeNumber = gen {
    let! kind = Gen.choose (0, 3)
    match kind with
    | 0 -> return! Gen.choose (0, 10) |> Gen.map float
    | 1 -> return! Gen.choose (0, Int32.MaxValue) |> Gen.map float
    | 2 -> let! e = Gen.choose (10, 30) in return Math.Pow(10.0, float e) // wider than any int: `1000...0`
    | _ -> let! m = Gen.choose (1, 999) in let! e = Gen.choose (0, 60) in return Math.Floor(float m * Math.Pow(2.0, float e)) }

let private fraction = gen {
    let! kind = Gen.choose (0, 4)
    match kind with
    | 0 -> return! Gen.elements [ 0.5; 0.75; 1e-4; 5e-4; 0.1; 2.0; 1e21; 5e-324; Double.MaxValue; Double.Epsilon; 1.0 / 3.0 ]
    | 1 -> let! m = Gen.choose (1, 999_999) in let! e = Gen.choose (-30, 30) in return float m * Math.Pow(10.0, float e)
    | 2 -> let! m = Gen.choose (0, 100_000) in return float m
    | _ ->
        // Any positive finite double, from its bits.
        let! hi = Gen.choose (0, 0x7FEFFFFF)
        let! lo = Gen.choose (Int32.MinValue, Int32.MaxValue)
        return BitConverter.Int64BitsToDouble((int64 hi <<< 32) ||| (int64 lo &&& 0xFFFFFFFFL)) }

let private num = Gen.oneof [ wholeNumber |> Gen.map (fun v -> Num(v, true, at)); fraction |> Gen.map (fun v -> Num(v, false, at)) ]
let private atom = Gen.frequency [ 3, num; 2, name |> Gen.map (fun n -> Ref(n, at)) ]

let rec private expr size =
    if size <= 0 then atom
    else
        Gen.frequency
            [ 2, atom
              1, gen {
                  let! op = Gen.elements [ '+'; '-'; '*'; '/' ]
                  let! a = expr (size / 2)
                  let! b = expr (size / 2)
                  return Bin(op, a, b, at) } ]

let private word size =
    Gen.frequency [ 3, atom |> Gen.map Atom; 1, expr size |> Gen.map Paren ]

let private words size max = gen {
    let! n = Gen.choose (0, max)
    return! Gen.listOfLength n (word size) }

let rec private primary size : Gen<Stmt> =
    let call = gen {
        let! n = name
        let! ws = words (size / 2) 4
        return Call(n, ws, at) }
    if size <= 0 then call
    else
        Gen.frequency
            [ 4, call
              1, stmt (size / 2) |> Gen.map (fun s -> Group(s, at))
              1, gen {
                  let! count = word 2
                  let! body = primary (size / 2)
                  return Repeat(count, body, at) } ]

/// A pipe's items are primaries; a sequence's items are pipes or primaries. One item is no pipe.
and private piped size =
    Gen.frequency
        [ 3, primary size
          1, gen {
              let! n = Gen.choose (2, 4)
              let! items = Gen.listOfLength n (primary (size / n))
              return Pipe(items, at) } ]

and private stmt size =
    Gen.frequency
        [ 3, piped size
          1, gen {
              let! n = Gen.choose (2, 3)
              let! items = Gen.listOfLength n (piped (size / n))
              return Seq(items, at) } ]

let private letDef size = gen {
    let! n = name
    let! k = Gen.choose (0, 3)
    let! ps = Gen.listOfLength k name
    let! body = stmt size
    return { Name = n; Params = ps |> List.map (fun p -> p, at); Body = body; Pos = at } }

let private stringChars =
    // Anything but the quote and line breaks; non-ASCII included.
    [ 'a'; 'Z'; '0'; ' '; '/'; '.'; '-'; ','; '('; ')'; '|'; '\t'; 'é'; 'ß'; '中'; '\u00a0'; '#'; '\\' ]

let private trainToken = gen {
    let! kind = Gen.choose (0, 5)
    match kind with
    | 0 | 1 -> return! rawName |> Gen.map (fun w -> TWord(w, at))
    | 2 ->
        let! v = wholeNumber
        let! negative = Gen.elements [ false; false; true ]
        return TNum((if negative then -v else v), true, at)
    | 3 ->
        let! v = fraction
        let! negative = Gen.elements [ false; false; true ]
        return TNum((if negative then -v else v), false, at)
    | 4 ->
        let! n = Gen.choose (0, 12)
        let! cs = Gen.listOfLength n (Gen.elements stringChars)
        return TStr(String(Array.ofList cs), at)
    | _ -> return TComma at }

let private trainEntry = gen {
    let! key = name
    let! n = Gen.choose (0, 6)
    let! tokens = Gen.listOfLength n trainToken
    return { Key = key; Tokens = tokens; Pos = at } }

let private modelFile = Gen.sized (fun size ->
    let size = min size 12
    gen {
        let! nLets = Gen.choose (0, 3)
        let! lets = Gen.listOfLength nLets (letDef size)
        let! netName = name
        let! hasInput = Gen.elements [ true; true; false ]
        let! dims = Gen.choose (1, 3)
        let! input = Gen.listOfLength dims (word 2)
        let! nBody = Gen.choose (0, 6)
        let! body = Gen.listOfLength nBody (stmt size)
        let! hasTrain = Gen.elements [ true; false ]
        let! nEntries = Gen.choose (0, 5)
        let! entries = Gen.listOfLength nEntries trainEntry
        return
            { Lets = lets
              Name = netName
              NamePos = at
              Input = if hasInput then Some(input, at) else None
              Body = body
              Train = if hasTrain then Some(entries, at) else None } })

let private config = { FsCheckConfig.defaultConfig with maxTest = 1500 }

let private reparse (text: string) =
    try Parser.parse "printed.model" text
    with ModelFileError errors -> failwithf "the printed text does not parse: %s\n%s" (Frontend.renderErrors text errors) text

// ---- properties ----

let ``printing then parsing any syntax tree gives the same tree`` () =
    let prop (m: ModelFile) =
        let text = Printer.print m
        let back = reparse text
        if back <> m then failwithf "the tree changed in the round trip through:\n%s\nwas:\n%A\nnow:\n%A" text m back
        // Printing is canonical: the reparsed tree prints to the same text.
        Expect.equal (Printer.print back) text "Printer.print back"
    Prop.forAll (Arb.fromGen modelFile) prop

let ``numbers print so that they parse to the same value and kind`` () =
    let prop (v: float, isInt: bool) =
        let m = { Lets = []; Name = "n"; NamePos = at; Input = None; Body = [ Call("f", [ Atom(Num(v, isInt, at)) ], at) ]; Train = None }
        match (reparse (Printer.print m)).Body with
        | [ Call ("f", [ Atom (Num (v', isInt', _)) ], _) ] ->
            Expect.isTrue (BitConverter.DoubleToInt64Bits v = BitConverter.DoubleToInt64Bits v' && isInt = isInt') (sprintf "%s: %g %b -> %g %b" (Printer.number v isInt) v isInt v' isInt')
        | other -> failwithf "unexpected %A" other
    let gen = Gen.oneof [ wholeNumber |> Gen.map (fun v -> v, true); fraction |> Gen.map (fun v -> v, false) ]
    Prop.forAll (Arb.fromGen gen) prop

let ``numbers print as a person writes them`` () =
    Expect.equal (Printer.number 2.0 false) "2.0" "Printer.number 2.0 false"
    Expect.equal (Printer.number 2.0 true) "2" "Printer.number 2.0 true"
    Expect.equal (Printer.number 1e-4 false) "0.0001" "Printer.number 1e-4 false"
    Expect.equal (Printer.number 1e20 true) "100000000000000000000" "Printer.number 1e20 true"

let ``the printer parenthesises where the grammar needs it`` () =
    let call n = Call(n, [], at)
    let one s = Printer.stmt s
    Expect.equal (one (Repeat(Atom(Num(2.0, true, at)), Pipe([ call "a"; call "b" ], at), at))) "repeat 2 (a |> b)" ""
    Expect.equal (one (Pipe([ call "a"; Seq([ call "b"; call "c" ], at) ], at))) "a |> (b then c)" ""
    Expect.equal (one (Seq([ Pipe([ call "a"; call "b" ], at); call "c" ], at))) "a |> b then c" ""
    Expect.equal (one (Call("conv", [ Paren(Bin('/', Ref("k", at), Num(2.0, true, at), at)); Paren(Bin('-', Bin('-', Ref("a", at), Ref("b", at), at), Ref("c", at), at)) ], at))) "conv (k / 2) ((a - b) - c)" ""
    Expect.equal (Printer.expr (Bin('-', Ref("a", at), Bin('-', Ref("b", at), Ref("c", at), at), at))) "a - (b - c)" ""
    Expect.equal (Printer.trainEntry { Key = "crop"; Tokens = [ TNum(227.0, true, at); TWord("from", at); TNum(256.0, true, at); TComma at; TWord("flip", at); TWord("horizontal", at) ]; Pos = at }) "crop 227 from 256, flip horizontal" ""

let private exampleModels () = Directory.GetFiles(Path.Combine(repoRoot, "Models"), "*.model") |> Array.sort

let ``every example model prints, parses back to the same tree and compiles to the same network`` () =
    let models = exampleModels ()
    Expect.isNonEmpty models "models"
    for path in models do
        let source = File.ReadAllText path
        let tree = Parser.parse path source
        let text = Printer.print tree
        Expect.equal (reparse text) tree "reparse text"
        let original = Frontend.compileText path (Some 7) source
        let printed = Frontend.compileText "printed.model" (Some 7) text
        Expect.equal printed.Network original.Network "printed.Network"
        Expect.equal (printed.Layers |> List.map (fun l -> l.Output)) (original.Layers |> List.map (fun l -> l.Output)) "printed.Layers |> List.map (fun l -> l.Output)"
        Expect.equal printed.TotalParams original.TotalParams "printed.TotalParams"
        Expect.equal printed.TotalMultiplyAdds original.TotalMultiplyAdds "printed.TotalMultiplyAdds"

let ``the printed AlexNet reads like the file`` () =
    let text = Printer.print (Parser.parse "alexnet.model" (File.ReadAllText(modelPath "alexnet.model")))
    Expect.stringContains text "  conv 96 kernel 11 stride 4 |> relu |> lrn size 5 alpha 0.0001 beta 0.75 k 2\n" "text"
    Expect.stringContains text "  augment crop 227 from 256, flip horizontal\n" "text"
    Expect.stringContains text "  optimizer sgd lr 0.01 momentum 0.9 weight-decay 0.0005\n" "text"

let ``continuation lines and comments print in the canonical layout`` () =
    let loose =
        "// a comment\nlet f n =\n  conv n kernel 3 // kernel\n  |> relu\n\nnetwork t // name\n  input 3 x 32 x 32\n"
        + "  f 8\n    then maxpool 2\n  flatten |>\n    dense 10\n  softmax\ntrain\n  epochs 3 // e\n  augment crop 28 from 32 , flip horizontal\n"
    let canonical =
        "let f n = conv n kernel 3 |> relu\n\nnetwork t\n  input 3 x 32 x 32\n  f 8 then maxpool 2\n  flatten |> dense 10\n  softmax\n\n"
        + "train\n  epochs 3\n  augment crop 28 from 32, flip horizontal\n"
    Expect.equal (Printer.print (Parser.parse "loose.model" loose)) canonical ""
    let a, b = Frontend.compileText "loose.model" (Some 10) loose, Frontend.compileText "canonical.model" (Some 10) canonical
    Expect.equal b.Network a.Network "b.Network"

[<Tests>]
let tests =
    testList "RoundTripTests" [
        testPropertyWithConfig config "printing then parsing any syntax tree gives the same tree" (``printing then parsing any syntax tree gives the same tree`` ())
        testPropertyWithConfig { config with maxTest = 3000 } "numbers print so that they parse to the same value and kind" (``numbers print so that they parse to the same value and kind`` ())
        testCase "numbers print as a person writes them" ``numbers print as a person writes them``
        testCase "the printer parenthesises where the grammar needs it" ``the printer parenthesises where the grammar needs it``
        testCase "every example model prints, parses back to the same tree and compiles to the same network" ``every example model prints, parses back to the same tree and compiles to the same network``
        testCase "the printed AlexNet reads like the file" ``the printed AlexNet reads like the file``
        testCase "continuation lines and comments print in the canonical layout" ``continuation lines and comments print in the canonical layout``
    ]
