/// Every code block marked `model` in README.md and docs/ parses and infers.
module Dsl.Compiler.Tests.DocsTests

open System.IO
open System.Text.RegularExpressions
open Xunit
open Dsl.Compiler
open Dsl.Compiler.Tests.TestUtil

let modelBlocks () =
    Directory.GetFiles(Path.Combine(repoRoot, "docs"), "*.md", SearchOption.AllDirectories)
    |> Array.append [| Path.Combine(repoRoot, "README.md") |]
    |> Array.collect (fun f ->
        Regex.Matches(File.ReadAllText f, "```model\\n(.*?)```", RegexOptions.Singleline)
        |> Seq.mapi (fun i m -> [| box (Path.GetRelativePath(repoRoot, f)); box i; box m.Groups[1].Value |])
        |> Array.ofSeq)

[<Fact>]
let ``the docs have model blocks`` () = Assert.True(modelBlocks().Length >= 4)

[<Theory>]
[<MemberData(nameof modelBlocks)>]
let ``a model block in the docs compiles`` (file: string, index: int, source: string) =
    let inf = Frontend.compileText (sprintf "%s#%d" file index) (Some 10) source
    Assert.True(inf.TotalParams > 0L)
