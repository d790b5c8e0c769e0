module Dsl.Cli.Tests.Main

open Expecto

/// Runs every [<Tests>] value of this assembly, one at a time: each starts `dsl` processes that train, and the kill
/// test times its kill against a run's progress, so sharing the CPU would only make them slower and less certain.
[<EntryPoint>]
let main argv = runTestsInAssemblyWithCLIArgs [ Sequenced ] argv
