/// Model-file text to the located syntax tree. Layout: one statement per line; `|>` and `then`
/// may also begin a continuation line; `//` comments run to the end of the line.
module Dsl.Compiler.Parser

open System
open FParsec
open Dsl.Core
open Dsl.Core.Syntax

/// The user state is the current nesting depth of parentheses and `repeat`s, so that a pathological
/// file is a located error rather than a stack overflow.
type private P<'a> = Parser<'a, int>

let reserved = set [ "let"; "repeat"; "then"; "network"; "input"; "train" ]

/// How deep parentheses and `repeat`s may nest, and how deep one argument expression may be.
let maxNesting = 32
let maxExprDepth = 256

let private comment: P<unit> = pstring "//" >>. skipRestOfLine false <?> "a comment"
let private ws: P<unit> = skipMany (skipMany1SatisfyL (fun c -> c = ' ' || c = '\t') "a space" <|> comment)
let private newline1: P<unit> = skipNewline >>. ws <?> "a line break"
let private lineBreaks: P<unit> = skipMany1 newline1
let private optBreaks: P<unit> = skipMany newline1
let private lineEnd: P<unit> = lineBreaks <|> eof <?> "the end of the line"

let private pos: P<Pos> =
    getPosition |>> fun p -> { File = p.StreamName; Line = int p.Line; Col = int p.Column }

let private fail1 (p: Pos) message hint : 'a = Diagnostics.errorWith p message (Some hint)

/// `opening inner closing` one level deeper; past `maxNesting` levels a located error at the opening token.
let private nested (opening: P<unit>) (inner: P<'a>) (closing: P<unit>) : P<'a> =
    let deeper (p: Pos) : P<unit> =
        fun stream ->
            stream.UserState <- stream.UserState + 1
            if stream.UserState > maxNesting then
                fail1 p (sprintf "parentheses and `repeat` nest more than %d deep" maxNesting) "name the inner part with a `let`"
            Reply(())
    (pos .>> opening >>= deeper) >>. inner .>> closing .>> updateUserState (fun d -> d - 1)

/// Depth of an expression tree, without recursion (a long `1 + 1 + ...` is a deep left spine).
let private exprDepth (e: Expr) =
    let stack = Collections.Generic.Stack<Expr * int>()
    stack.Push((e, 1))
    let mutable deepest = 0
    while stack.Count > 0 do
        let e, d = stack.Pop()
        deepest <- max deepest d
        match e with
        | Bin (_, a, b, _) -> stack.Push((a, d + 1)); stack.Push((b, d + 1))
        | _ -> ()
    deepest

let private sym s: P<unit> = skipString s >>. ws
let private keyword s: P<unit> = attempt (skipString s >>. notFollowedBy (satisfy (fun c -> isAsciiLetter c || isDigit c || c = '_' || c = '-'))) >>. ws <?> "`" + s + "`"

let private rawName: P<string> = regex "[A-Za-z_][A-Za-z0-9_]*(-[A-Za-z][A-Za-z0-9_]*)*" <?> "a name"

/// A name that is not a keyword of the language.
let private name: P<string> =
    attempt (rawName >>= fun s -> if reserved.Contains s then fail "a keyword" else preturn s) .>> ws <?> "a name"

let private numberWith options: P<float * bool> =
    numberLiteral options "a number"
    .>> notFollowedBy (satisfy isAsciiLetter) .>> ws
    |>> fun n -> float n.String, n.IsInteger

let private number = numberWith (NumberLiteralOptions.AllowFraction ||| NumberLiteralOptions.AllowExponent)
/// The train block has no arithmetic, so a value may be negative (`epochs -1` is then a range error, not a syntax error).
let private signedNumber = numberWith (NumberLiteralOptions.AllowFraction ||| NumberLiteralOptions.AllowExponent ||| NumberLiteralOptions.AllowMinusSign)

let private expr, exprRef = createParserForwardedToRef<Expr, int> ()

let private numExpr = pipe2 pos number (fun p (v, i) -> Num(v, i, p))
let private refExpr = pipe2 pos name (fun p n -> Ref(n, p))
let private parenExpr = nested (sym "(") expr (sym ")" <?> "`)`")
let private factor = numExpr <|> refExpr <|> parenExpr <?> "a number, a name or `(`"

let private op (chars: string) =
    pipe2 pos (anyOf chars <?> "an operator" .>> ws) (fun p c -> fun a b -> Bin(c, a, b, p))

do exprRef.Value <- chainl1 (chainl1 factor (op "*/")) (op "+-")

let private word: P<Word> =
    pos .>>. ((numExpr |>> Atom) <|> (refExpr |>> Atom) <|> (nested (sym "(") expr (sym ")" <?> "`)`") |>> Paren))
    |>> fun (p, w) ->
        if exprDepth w.Expr > maxExprDepth then
            fail1 p (sprintf "this expression nests more than %d operations deep" maxExprDepth) "compute it in smaller steps with `let` parameters"
        w

let private joined (sep: P<unit>) label make (item: P<Stmt>) =
    let separator = attempt (optBreaks >>. sep) >>. optBreaks <?> label
    pipe2 pos (sepBy1 item separator) (fun p items -> match items with [ one ] -> one | many -> make (many, p))

let private primary, primaryRef = createParserForwardedToRef<Stmt, int> ()

let private call = pipe3 pos name (many word) (fun p n args -> Call(n, args, p))
let private repeatStmt =
    pipe2 pos (nested (keyword "repeat") ((word <?> "a repeat count") .>>. primary) (preturn ())) (fun p (n, s) -> Repeat(n, s, p))
let private pipeStmt = joined (sym "|>") "`|>`" Pipe primary
let private stmt = joined (keyword "then") "`then`" Seq pipeStmt
let private group = pipe2 pos (nested (sym "(" >>. optBreaks) stmt (optBreaks >>. sym ")" <?> "`)`")) (fun p s -> Group(s, p))

do primaryRef.Value <- repeatStmt <|> group <|> call <?> "a layer"

let private letDef: P<LetDef> =
    pipe4 pos (keyword "let" >>. name) (many (pos .>>. name |>> fun (p, n) -> n, p)) (sym "=" >>. optBreaks >>. stmt)
        (fun p n ps body -> { Name = n; Params = ps; Body = body; Pos = p })

let private inputLine = pipe2 pos (keyword "input" >>. sepBy1 word (keyword "x")) (fun p ws -> ws, p)

let private trainToken: P<TrainToken> =
    choice
        [ pipe2 pos signedNumber (fun p (v, i) -> TNum(v, i, p))
          pipe2 pos (between (pchar '"') (pchar '"') (manySatisfy (fun c -> c <> '"' && c <> '\n')) .>> ws) (fun p s -> TStr(s, p))
          pos .>> sym "," |>> TComma
          pipe2 pos (rawName .>> ws) (fun p w -> TWord(w, p)) ]
    <?> "a value"

let private trainEntry: P<TrainEntry> =
    pipe3 pos (name <?> "a train key") (many trainToken) (fun p k ts -> { Key = k; Tokens = ts; Pos = p })

let private trainBlock = pos .>> keyword "train" .>> lineEnd .>>. many (trainEntry .>> lineEnd) |>> fun (p, es) -> es, p

let private modelFile: P<ModelFile> =
    ws >>. optBreaks >>. many (letDef .>> lineEnd) .>>. (keyword "network" >>. pos .>>. name .>> lineEnd)
    .>>. opt (inputLine .>> lineEnd)
    .>>. many (((letDef |>> Choice1Of2) <|> (stmt |>> Choice2Of2)) .>> lineEnd)
    .>>. opt trainBlock
    .>> (eof <?> "the end of the file")
    |>> fun ((((lets, (namePos, netName)), input), body), train) ->
        { Lets = lets @ (body |> List.choose (function Choice1Of2 l -> Some l | _ -> None))
          Name = netName
          NamePos = namePos
          Input = input
          Body = body |> List.choose (function Choice2Of2 s -> Some s | _ -> None)
          Train = train }

let private quote s = "`" + s + "`"

/// FParsec's error as one readable sentence: what was found and what would have fitted.
let private describe (source: string) (e: ParserError) =
    let rec labels (msgs: ErrorMessageList) =
        ErrorMessageList.ToSortedArray msgs
        |> Array.collect (fun m ->
            match m with
            | :? ErrorMessage.Expected as x -> [| x.Label |]
            | :? ErrorMessage.ExpectedString as x -> [| quote x.String |]
            | :? ErrorMessage.NestedError as x -> labels x.Messages
            | :? ErrorMessage.CompoundError as x -> labels x.NestedErrorMessages
            | _ -> [||])
    // Spaces, comments and blank lines fit almost anywhere; listing them only hides what was meant.
    let noise = set [ "a space"; "a comment"; "a line break" ]
    let expected = (if isNull e.Messages then [||] else labels e.Messages) |> Array.distinct |> Array.filter (noise.Contains >> not) |> List.ofArray
    let i = int e.Position.Index
    let found =
        if i >= source.Length then "the end of the file"
        elif source[i] = '\n' || source[i] = '\r' then "the end of the line"
        elif Char.IsControl source[i] || Char.IsWhiteSpace source[i] || Char.IsSurrogate source[i] then
            sprintf "the character U+%04X" (int source[i])
        else
            let stop j = j >= source.Length || Char.IsWhiteSpace source[j] || Char.IsControl source[j] || (j > i && "()|,".Contains source[j])
            let j = Seq.initInfinite ((+) i) |> Seq.find stop
            let token = source.Substring(i, max 1 (j - i))
            quote (if token.Length > 24 then token.Substring(0, 24) + "..." else token)
    let alternatives =
        match expected with
        | [] -> ""
        | [ one ] -> "; expected " + one
        | many -> "; expected " + String.Join(", ", List.take (many.Length - 1) many) + " or " + List.last many
    let hint =
        if List.contains "`network`" expected then Some "a model file begins with `network NAME` (after any `let` lines), then `input C x H x W`"
        else None
    sprintf "unexpected %s%s" found alternatives, hint

/// One train-block line on its own (`optimizer sgd lr`), for completion in an editor; None where it does not parse.
let tryParseTrainEntry (text: string) : TrainEntry option =
    match runParserOnString (ws >>. trainEntry .>> eof) 0 "" text with
    | Success (e, _, _) -> Some e
    | Failure _ -> None

/// Parses model-file text; `file` names it in error positions.
let parse (file: string) (source: string) : ModelFile =
    match runParserOnString modelFile 0 file source with
    | Success (m, _, _) -> m
    | Failure (_, e, _) ->
        let p = { File = file; Line = int e.Position.Line; Col = int e.Position.Column }
        let message, hint = describe source e
        Diagnostics.errorWith p message hint
