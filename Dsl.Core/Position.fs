namespace Dsl.Core

/// A place in a model file. Line and column count from 1.
[<CustomEquality; CustomComparison>]
type Pos =
    { File: string; Line: int; Col: int }
    static member None = { File = ""; Line = 0; Col = 0 }
    member p.IsKnown = p.Line > 0
    override p.ToString() = sprintf "%s:%d:%d" p.File p.Line p.Col
    // Positions are metadata: two networks that differ only in where they were written are equal,
    // so a network parsed from a file equals the same network built in code.
    override _.Equals(o: obj) = o :? Pos
    override _.GetHashCode() = 0
    interface System.IComparable with
        member _.CompareTo(_: obj) = 0

/// A problem in a model file: where, what, and how to fix it when we know.
type ModelError = { Pos: Pos; Message: string; Hint: string option }

exception ModelFileError of ModelError list
