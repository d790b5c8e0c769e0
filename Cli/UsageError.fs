namespace Dsl.Cli

/// A command-line value that parses but makes no sense (a batch of 0, an export onto a device): exit 2.
exception UsageError of string
