/// The located syntax tree of a model file, as written (before `let` and `repeat` are expanded).
module Dsl.Core.Syntax

type Expr =
    | Num of float * isInt: bool * Pos
    | Ref of string * Pos
    | Bin of op: char * Expr * Expr * Pos
    member e.Pos = match e with Num (_, _, p) | Ref (_, p) | Bin (_, _, _, p) -> p

/// One argument word after a layer or function name: `96`, `kernel`, `(k / 2)`.
type Word =
    | Atom of Expr
    | Paren of Expr
    member w.Expr = match w with Atom e | Paren e -> e
    member w.Pos = w.Expr.Pos

type Stmt =
    /// `conv 96 kernel 11 stride 4`, or a call of a `let` function.
    | Call of name: string * Word list * Pos
    /// `a |> b |> c`
    | Pipe of Stmt list * Pos
    /// `a then b`
    | Seq of Stmt list * Pos
    /// `( ... )`
    | Group of Stmt * Pos
    | Repeat of count: Word * Stmt * Pos
    member s.Pos = match s with Call (_, _, p) | Pipe (_, p) | Seq (_, p) | Group (_, p) | Repeat (_, _, p) -> p

type LetDef = { Name: string; Params: (string * Pos) list; Body: Stmt; Pos: Pos }

/// A value in the train block: `fashion-mnist`, `0.01`, `"data/cats"`, `,`.
type TrainToken =
    | TWord of string * Pos
    | TNum of float * isInt: bool * Pos
    | TStr of string * Pos
    | TComma of Pos
    member t.Pos = match t with TWord (_, p) | TNum (_, _, p) | TStr (_, p) | TComma p -> p

type TrainEntry = { Key: string; Tokens: TrainToken list; Pos: Pos }

type ModelFile =
    { Lets: LetDef list
      Name: string
      NamePos: Pos
      Input: (Word list * Pos) option
      Body: Stmt list
      Train: (TrainEntry list * Pos) option }
