module Dsl.Compiler.Tests.TestUtil

open System.IO
open Dsl.Core
open Dsl.Compiler

/// The repository root, found from the test binary's folder.
let repoRoot =
    let rec up (d: DirectoryInfo) = if File.Exists(Path.Combine(d.FullName, "Dsl.sln")) then d.FullName else up d.Parent
    up (DirectoryInfo(System.AppContext.BaseDirectory))

let modelPath name = Path.Combine(repoRoot, "Models", name)

let compileModel name classes = Frontend.compileFile (modelPath name) classes |> fst

/// Compiles text that must fail; returns the first error.
let compileError (source: string) =
    try
        Frontend.compileText "test.model" (Some 10) source |> ignore
        failwithf "expected an error, but the model compiled:\n%s" source
    with ModelFileError (e :: _) -> e
