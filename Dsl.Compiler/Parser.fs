/// Model-file text to the located syntax tree. Layout: one statement per line; `|>` and `then`
/// may also begin a continuation line; `//` comments run to the end of the line.
module Dsl.Compiler.Parser

open System
open FParsec
open Dsl.Core
open Dsl.Core.Syntax

type private P<'a> = Parser<'a, unit>

let reserved = set [ "let"; "repeat"; "then"; "network"; "input"; "train" ]

let private comment: P<unit> = pstring "//" >>. skipRestOfLine false
let private ws: P<unit> = skipMany ((skipMany1 (anyOf " \t")) <|> comment)
let private newline1: P<unit> = skipNewline >>. ws <?> "a line break"
let private lineBreaks: P<unit> = skipMany1 newline1
let private optBreaks: P<unit> = skipMany newline1
let private lineEnd: P<unit> = lineBreaks <|> eof <?> "the end of the line"

let private pos: P<Pos> =
    getPosition |>> fun p -> { File = p.StreamName; Line = int p.Line; Col = int p.Column }

let private sym s: P<unit> = skipString s >>. ws
let private keyword s: P<unit> = attempt (skipString s >>. notFollowedBy (satisfy (fun c -> isAsciiLetter c || isDigit c || c = '_' || c = '-'))) >>. ws <?> sprintf "`%s`" s

let private rawName: P<string> = regex "[A-Za-z_][A-Za-z0-9_]*(-[A-Za-z][A-Za-z0-9_]*)*" <?> "a name"

/// A name that is not a keyword of the language.
let private name: P<string> =
    attempt (rawName >>= fun s -> if reserved.Contains s then fail "a keyword" else preturn s) .>> ws <?> "a name"

let private number: P<float * bool> =
    numberLiteral (NumberLiteralOptions.AllowFraction ||| NumberLiteralOptions.AllowExponent) "a number"
    .>> notFollowedBy (satisfy isAsciiLetter) .>> ws
    |>> fun n -> float n.String, n.IsInteger

let private expr, exprRef = createParserForwardedToRef<Expr, unit> ()

let private numExpr = pipe2 pos number (fun p (v, i) -> Num(v, i, p))
let private refExpr = pipe2 pos name (fun p n -> Ref(n, p))
let private parenExpr = between (sym "(") (sym ")" <?> "`)`") expr
let private factor = numExpr <|> refExpr <|> parenExpr <?> "a number, a name or `(`"

let private op (chars: string) =
    pipe2 pos (anyOf chars .>> ws) (fun p c -> fun a b -> Bin(c, a, b, p))

do exprRef.Value <- chainl1 (chainl1 factor (op "*/")) (op "+-")

let private word: P<Word> =
    (numExpr |>> Atom) <|> (refExpr |>> Atom) <|> (between (sym "(") (sym ")" <?> "`)`") expr |>> Paren)

let private joined (sep: P<unit>) label make (item: P<Stmt>) =
    let separator = attempt (optBreaks >>. sep) >>. optBreaks <?> label
    pipe2 pos (sepBy1 item separator) (fun p items -> match items with [ one ] -> one | many -> make (many, p))

let private primary, primaryRef = createParserForwardedToRef<Stmt, unit> ()

let private call = pipe3 pos name (many word) (fun p n args -> Call(n, args, p))
let private repeatStmt = pipe3 pos (keyword "repeat" >>. (word <?> "a repeat count")) primary (fun p n s -> Repeat(n, s, p))
let private pipeStmt = joined (sym "|>") "`|>`" Pipe primary
let private stmt = joined (keyword "then") "`then`" Seq pipeStmt
let private group = pipe2 pos (between (sym "(" >>. optBreaks) (optBreaks >>. sym ")" <?> "`)`") stmt) (fun p s -> Group(s, p))

do primaryRef.Value <- repeatStmt <|> group <|> call <?> "a layer"

let private letDef: P<LetDef> =
    pipe4 pos (keyword "let" >>. name) (many (pos .>>. name |>> fun (p, n) -> n, p)) (sym "=" >>. optBreaks >>. stmt)
        (fun p n ps body -> { Name = n; Params = ps; Body = body; Pos = p })

let private inputLine = pipe2 pos (keyword "input" >>. sepBy1 word (keyword "x")) (fun p ws -> ws, p)

let private trainToken: P<TrainToken> =
    choice
        [ pipe2 pos number (fun p (v, i) -> TNum(v, i, p))
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
    let expected = labels e.Messages |> Array.distinct |> List.ofArray
    let i = int e.Position.Index
    let found =
        if i >= source.Length then "the end of the file"
        elif source[i] = '\n' || source[i] = '\r' then "the end of the line"
        else
            let j = Seq.initInfinite ((+) i) |> Seq.find (fun j -> j >= source.Length || Char.IsWhiteSpace source[j] || (j > i && "()|,".Contains source[j]))
            quote (source.Substring(i, max 1 (j - i)))
    let alternatives =
        match expected with
        | [] -> ""
        | [ one ] -> "; expected " + one
        | many -> "; expected " + String.Join(", ", List.take (many.Length - 1) many) + " or " + List.last many
    sprintf "unexpected %s%s" found alternatives

/// Parses model-file text; `file` names it in error positions.
let parse (file: string) (source: string) : ModelFile =
    match runParserOnString modelFile () file source with
    | Success (m, _, _) -> m
    | Failure (_, e, _) ->
        let p = { File = file; Line = int e.Position.Line; Col = int e.Position.Column }
        raise (ModelFileError [ { Pos = p; Message = describe source e; Hint = None } ])
