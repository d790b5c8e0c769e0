module Dsl.Compiler.Tests.Main

open Expecto

/// Runs every [<Tests>] value of this assembly; command-line options as Expecto's (--filter, --sequenced, --summary).
[<EntryPoint>]
let main argv = runTestsInAssemblyWithCLIArgs [] argv
