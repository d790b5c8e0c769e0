/// Fuzzing: the example models, mutated at random (tokens deleted, duplicated, swapped, replaced;
/// bytes inserted, ASCII or not, control characters included; the file cut short), either compile or
/// fail with located errors. Never any other exception.
module Dsl.Compiler.Tests.MutationTests

open System
open System.IO
open System.Text.RegularExpressions
open Expecto
open FsCheck
open FsCheck.FSharp
open Dsl.Core
open Dsl.Compiler
open Dsl.Compiler.Tests.TestUtil

/// The example models as tokens: runs of spaces, line breaks, words, numbers, and single symbols.
/// Concatenating the tokens gives the file back.
let private tokenize (source: string) =
    Regex.Matches(source, @"[ \t]+|\r?\n|//[^\n]*|[A-Za-z_][A-Za-z0-9_\-]*|[0-9][0-9.eE\-]*|""[^""\n]*""|\|>|.", RegexOptions.Singleline)
    |> Seq.map (fun m -> m.Value)
    |> Array.ofSeq

let private models =
    lazy (Directory.GetFiles(Path.Combine(repoRoot, "Models"), "*.model") |> Array.sort |> Array.map (File.ReadAllText >> tokenize))

/// Things to insert: grammar that can confuse the parser, numbers at the edges of what fits,
/// and characters no model file should contain.
let private inserts =
    [| "("; ")"; "(("; "))"; "|>"; "then"; "repeat"; "repeat 0"; "repeat 99999"; "let"; "let f = f"; "network"; "input"; "train"; "x"
       "\""; ","; "//"; "-"; "."; "e"; "1e999"; "0"; "-1"; "99999999999"; "2147483647"; "2147483648"; "0.0"; "(0 - 2147483647 - 1) / (0 - 1)"
       "/ 0"; "* 65536 * 65536"; "classes"; "kernel"; "groups 7"; "stride 0"; "pad 100000"; "floor"; "ceil"; "bias"; "on"; "softmax"
       "flatten"; "dense"; "conv"; "lrn size 4"; "\n"; "\r"; "\r\n"; "\t"; " "; "\u0000"; "\u0007"; "\u001b"; "\u007f"; "\u00a0"
       "é"; "ß"; "中文"; "😀"; "\ud800"; "\udc00"; "\uffff"; "\ufffe"; "\ufeff"; "\u2028"; "\u200b"; "Ω"; "١٢"; "５" |]

type private Mutation =
    | Delete of int
    | Duplicate of int
    | Swap of int * int
    | Insert of int * string
    | Replace of int * string
    | Truncate of int
    /// Random characters from anywhere in the first plane, surrogates and control characters included.
    | Noise of int * string

let private apply (tokens: string[]) (m: Mutation) =
    let n = tokens.Length
    if n = 0 then tokens
    else
        let at i = ((i % n) + n) % n
        match m with
        | Delete i -> Array.removeAt (at i) tokens
        | Duplicate i -> Array.insertAt (at i) tokens[at i] tokens
        | Swap (i, j) ->
            let t = Array.copy tokens
            let a, b = at i, at j
            t[a] <- tokens[b]
            t[b] <- tokens[a]
            t
        | Insert (i, s) | Noise (i, s) -> Array.insertAt (at i) s tokens
        | Replace (i, s) -> Array.updateAt (at i) s tokens
        | Truncate i -> Array.truncate (at i) tokens

let private mutation =
    let index = Gen.choose (0, Int32.MaxValue)
    let text = Gen.elements inserts
    let noise = gen {
        let! n = Gen.choose (1, 6)
        let! cs = Gen.listOfLength n (Gen.choose (0, 0xFFFF) |> Gen.map char)
        return String(Array.ofList cs) }
    Gen.frequency
        [ 3, index |> Gen.map Delete
          2, index |> Gen.map Duplicate
          2, Gen.zip index index |> Gen.map Swap
          3, Gen.zip index text |> Gen.map Insert
          2, Gen.zip index text |> Gen.map Replace
          1, index |> Gen.map Truncate
          2, Gen.zip index noise |> Gen.map Noise ]

let private mutant = gen {
    let! file = Gen.choose (0, models.Value.Length - 1)
    let! k = Gen.choose (1, 3)
    let! ms = Gen.listOfLength k mutation
    return String.concat "" (ms |> List.fold apply models.Value[file]) }

/// Shows a source so that control and invisible characters can be seen in a failure message.
let private visible (s: string) =
    s |> String.collect (fun c -> if c = '\n' || (c >= ' ' && c < '\u007f') then string c else sprintf "\\u%04x" (int c))

let private checkOne (source: string) =
    try
        let inf = Frontend.compileText "fuzz.model" (Some 10) source
        Expect.isFalse inf.Layers.IsEmpty "inf.Layers.IsEmpty"
        // What compiles also survives the printer.
        let tree = Parser.parse "fuzz.model" source
        let again = Parser.parse "printed.model" (Printer.print tree)
        if again <> tree then failwithf "the printer changed the tree of:\n%s" (visible source)
    with
    | ModelFileError errors ->
        if errors.IsEmpty then failwithf "an error without a message for:\n%s" (visible source)
        for e in errors do
            if e.Pos.Line < 1 || e.Pos.Col < 1 || String.IsNullOrWhiteSpace e.Message then
                failwithf "an unlocated or empty error %A for:\n%s" e (visible source)
            let text = Diagnostics.render source e
            Expect.stringContains text (sprintf "fuzz.model:%d:%d" e.Pos.Line e.Pos.Col) "text"
    | :? AssertException -> reraise ()
    | ex -> failwithf "%s: %s for:\n%s" (ex.GetType().Name) ex.Message (visible source)

let ``mutated example models compile or fail with located errors`` () =
    // DSL_FUZZ_COUNT=200000 dotnet test ... fuzzes longer than the default run.
    let count = match Int32.TryParse(Environment.GetEnvironmentVariable "DSL_FUZZ_COUNT") with | true, n when n > 0 -> n | _ -> 10000
    let config = { FsCheckConfig.defaultConfig with maxTest = count }
    config, Prop.forAll (Arb.fromGen mutant) checkOne

let ``the tokenizer gives the models back unchanged`` () =
    for tokens, path in Array.zip models.Value (Directory.GetFiles(Path.Combine(repoRoot, "Models"), "*.model") |> Array.sort) do
        Expect.equal (String.concat "" tokens) (File.ReadAllText path) ""

let ``every prefix of every example model compiles or fails with a located error`` () =
    for tokens in models.Value do
        let source = String.concat "" tokens
        for i in 0 .. source.Length do
            checkOne (source.Substring(0, i))

let ``the worst nesting the limits allow compiles on a small stack`` () =
    // Groups nested 32 deep in lets that call each other 32 deep, and an expression 256 deep: all allowed at once.
    let lets =
        [ for i in 1 .. 31 -> sprintf "let f%d = %srelu |> f%d%s" i (String('(', 32)) (i + 1) (String(')', 32)) ]
        @ [ sprintf "let f32 = conv 8 kernel (1%s)" (String.replicate 255 " + 0") ]
    let deep = sprintf "network t\n  input 3 x 32 x 32\n  %sf1%s\n  flatten\n  dense 10\n  softmax\n" (String('(', 32)) (String(')', 32))
    let source = String.concat "\n" lets + "\n" + deep
    let mutable result = Unchecked.defaultof<Result<Shapes.Inferred, exn>>
    // 1 MiB: below a .NET thread's default stack on Linux (1.5 MiB); Debug builds use larger frames than Release.
    let t = Threading.Thread((fun () -> result <- (try Ok(Frontend.compileText "deep.model" (Some 10) source) with ex -> Error ex)), 1024 * 1024)
    t.Start()
    t.Join()
    match result with
    | Ok inf -> Expect.equal (string (List.last inf.Layers).Output) "10" "string (List.last inf.Layers).Output"
    | Error (ModelFileError errors) -> failwithf "%s" (Frontend.renderErrors source errors)
    | Error ex -> raise ex

[<Tests>]
let tests =
    testList "MutationTests" [
        let config, property = ``mutated example models compile or fail with located errors`` ()
        testPropertyWithConfig config "mutated example models compile or fail with located errors" property
        testCase "the tokenizer gives the models back unchanged" ``the tokenizer gives the models back unchanged``
        testCase "every prefix of every example model compiles or fails with a located error" ``every prefix of every example model compiles or fails with a located error``
        testCase "the worst nesting the limits allow compiles on a small stack" ``the worst nesting the limits allow compiles on a small stack``
    ]
