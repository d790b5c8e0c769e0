/// `dsl lsp`: a Language Server Protocol server over standard input and output. Each open document is
/// compiled on open and on every change (AlexNet takes well under a millisecond once warm), its errors are
/// published as diagnostics, and hover, completion, definition and outline read from that one compile.
/// No message, however malformed, ends the server: a bad request is answered with a JSON-RPC error.
module Dsl.Cli.Lsp.Server

open System
open System.Collections.Generic
open System.IO
open System.Text.Json
open System.Text.Json.Nodes
open Argu
open Dsl.Core
open Dsl.Cli.Lsp.Text
open Dsl.Cli.Lsp.Transport

type LspArgs =
    | Stdio
    interface IArgParserTemplate with
        member _.Usage = "talk over standard input and output (the default, and the only transport; editors' clients may pass it)"

/// A request that cannot be answered, with its JSON-RPC error code.
exception private RpcError of code: int * message: string

let private invalidParams = -32602

let private node (v: obj) = JsonSerializer.SerializeToNode v

let private position (p: Position) = {| line = p.Line; character = p.Character |}
let private range (a: Position, b: Position) = {| start = position a; ``end`` = position b |}

/// A member of an object, or an invalid-params error naming what is missing.
let private field (n: JsonNode) (key: string) =
    match n with
    | :? JsonObject as o when not (isNull o[key]) -> o[key]
    | _ -> raise (RpcError(invalidParams, sprintf "params lack `%s`" key))

let private text (n: JsonNode) key = (field n key).GetValue<string>()
let private integer (n: JsonNode) key = (field n key).GetValue<int>()
let private positionOf (n: JsonNode) = { Line = integer n "line"; Character = integer n "character" }
let private uriOf (p: JsonNode) = text (field p "textDocument") "uri"

let private diagnostic (uri: string) (source: string) (e: ModelError) =
    let r = range (rangeAt source e.Pos)
    let related = e.Hint |> Option.map (fun h -> [| {| location = {| uri = uri; range = r |}; message = "hint: " + h |} |]) |> Option.defaultValue [||]
    {| range = r; severity = 1; source = "dsl"; message = e.Message; relatedInformation = related |}

let rec private symbol (s: Navigation.Symbol) : obj =
    {| name = s.Name; detail = s.Detail; kind = int s.Kind; range = range s.Range; selectionRange = range s.Selection
       children = s.Children |> List.map symbol |> Array.ofList |}

let private capabilities =
    {| capabilities =
        {| textDocumentSync = {| openClose = true; change = 2 |}
           hoverProvider = true
           completionProvider = {| triggerCharacters = [| " " |] |}
           definitionProvider = true
           documentSymbolProvider = true |}
       serverInfo = {| name = "dsl" |} |}

/// The server's state: the open documents, compiled.
type private Session(send: JsonNode -> unit) =
    let documents = Dictionary<string, Analysis.Analysis>()
    let mutable shutdown = false

    let document (p: JsonNode) =
        match documents.TryGetValue(uriOf p) with
        | true, a -> Some a
        | _ -> None

    let publish (uri: string) (diagnostics: obj[]) =
        send (node {| jsonrpc = "2.0"; ``method`` = "textDocument/publishDiagnostics"; ``params`` = {| uri = uri; diagnostics = diagnostics |} |})

    let update uri source =
        let a = Analysis.analyse uri source
        documents[uri] <- a
        publish uri (Analysis.errors a |> List.map (fun e -> box (diagnostic uri source e)) |> Array.ofList)

    member _.ShutdownRequested = shutdown

    member _.Request(name: string, p: JsonNode) : obj =
        match name with
        | "initialize" -> capabilities
        | "shutdown" -> shutdown <- true; null
        | "textDocument/hover" ->
            document p
            |> Option.bind (fun a -> Hover.hover a (positionOf (field p "position")))
            |> Option.map (fun (md, r) -> box {| contents = {| kind = "markdown"; value = md |}; range = range r |})
            |> Option.toObj
        | "textDocument/completion" ->
            match document p with
            | Some a ->
                Completion.complete a.Text (positionOf (field p "position"))
                |> List.map (fun i -> {| label = i.Label; kind = int i.Kind; detail = i.Detail |})
                |> Array.ofList |> box
            | None -> box [||]
        | "textDocument/definition" ->
            document p
            |> Option.bind (fun a -> Navigation.definition a (positionOf (field p "position")))
            |> Option.map (fun r -> box {| uri = uriOf p; range = range r |})
            |> Option.toObj
        | "textDocument/documentSymbol" ->
            match document p with
            | Some a -> Navigation.symbols a |> List.map symbol |> Array.ofList |> box
            | None -> box [||]
        | _ -> raise (RpcError(-32601, sprintf "method `%s` is not supported" name))

    member _.Notify(name: string, p: JsonNode) =
        match name with
        | "textDocument/didOpen" ->
            let d = field p "textDocument"
            update (text d "uri") (text d "text")
        | "textDocument/didChange" ->
            let uri = uriOf p
            match documents.TryGetValue uri with
            | true, a ->
                let changed =
                    (field p "contentChanges").AsArray()
                    |> Seq.fold (fun (source: string) change ->
                        match change with
                        | :? JsonObject as c when c.ContainsKey "range" ->
                            let r = field c "range"
                            replace source (positionOf (field r "start")) (positionOf (field r "end")) (text c "text")
                        | c -> text c "text") a.Text
                update uri changed
            | _ -> eprintfn "dsl lsp: a change to %s, which is not open, is ignored" uri
        | "textDocument/didClose" ->
            let uri = uriOf p
            documents.Remove uri |> ignore
            publish uri [||]
        // initialized, $/cancelRequest, didSave, workspace notifications...: nothing to do.
        | _ -> ()

let private error (id: JsonNode) (code: int) (message: string) =
    node {| jsonrpc = "2.0"; id = id; error = {| code = code; message = message |} |}

/// Serves until `exit` or the end of the input; the exit code is 0 after a `shutdown`, as the protocol asks.
let serve (input: Stream) (output: Stream) =
    let reader = Reader input
    let writer = Writer output
    let session = Session(writer.Write)
    let rec loop () =
        match reader.Read() with
        | EndOfInput -> if session.ShutdownRequested then 0 else 1
        | BadHeader reason -> eprintfn "dsl lsp: skipped %s" reason; loop ()
        | Unreadable reason -> writer.Write(error null -32700 reason); loop ()
        | Message msg ->
            let id = msg["id"]
            let p = msg["params"]
            let methodName =
                match msg["method"] with
                | :? JsonValue as v when v.GetValueKind() = JsonValueKind.String -> Some(v.GetValue<string>())
                | _ -> None
            let answer (f: unit -> unit) =
                try f ()
                with
                | RpcError (code, message) -> if not (isNull id) then writer.Write(error (id.DeepClone()) code message)
                | :? InvalidOperationException | :? FormatException as e ->
                    if not (isNull id) then writer.Write(error (id.DeepClone()) invalidParams e.Message)
                | e ->
                    eprintfn "dsl lsp: %s failed: %s" (defaultArg methodName "a message") e.Message
                    if not (isNull id) then writer.Write(error (id.DeepClone()) -32603 e.Message)
            match methodName with
            | Some "exit" -> if session.ShutdownRequested then 0 else 1
            | Some name when isNull id -> answer (fun () -> session.Notify(name, p)); loop ()
            | Some name ->
                answer (fun () -> writer.Write(node {| jsonrpc = "2.0"; id = id.DeepClone(); result = session.Request(name, p) |}))
                loop ()
            // A response to a request of ours (we send none) or an object without a method.
            | None ->
                if not (isNull id) then writer.Write(error (id.DeepClone()) -32600 "a request needs a `method`")
                loop ()
    loop ()

/// The verb: the protocol on standard input and output, anything else written to the console goes to standard error.
let run () =
    let output = Console.OpenStandardOutput()
    Console.SetOut Console.Error
    serve (Console.OpenStandardInput()) output
