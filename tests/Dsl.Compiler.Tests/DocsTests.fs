/// Every code block marked `model` in README.md and docs/ parses and infers.
module Dsl.Compiler.Tests.DocsTests

open System.IO
open System.Text.RegularExpressions
open Expecto
open Dsl.Compiler
open Dsl.Compiler.Tests.TestUtil

let modelBlocks () =
    Directory.GetFiles(Path.Combine(repoRoot, "docs"), "*.md", SearchOption.AllDirectories)
    |> Array.append [| Path.Combine(repoRoot, "README.md") |]
    |> Array.collect (fun f ->
        Regex.Matches(File.ReadAllText f, "```model\\n(.*?)```", RegexOptions.Singleline)
        |> Seq.mapi (fun i m -> Path.GetRelativePath(repoRoot, f), i, m.Groups[1].Value)
        |> Array.ofSeq)

let ``the docs have model blocks`` () = Expect.isGreaterThanOrEqual (modelBlocks().Length) 4 "model blocks in the docs"

let ``a model block in the docs compiles`` (file: string, index: int, source: string) =
    let inf = Frontend.compileText (sprintf "%s#%d" file index) (Some 10) source
    Expect.isGreaterThan inf.TotalParams 0L "parameters"

[<Tests>]
let tests =
    testList "DocsTests" [
        testCase "the docs have model blocks" ``the docs have model blocks``
        testList "a model block in the docs compiles" [
            for file, index, source in modelBlocks () ->
                testCase (sprintf "%s#%d" file index) (fun () -> ``a model block in the docs compiles`` (file, index, source))
        ]
    ]
