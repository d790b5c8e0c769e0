/// An editor's side of the Language Server Protocol: starts `dsl lsp`, frames JSON-RPC messages over its
/// standard input and output, and keeps the notifications it publishes.
module Dsl.Cli.Tests.LspClient

open System
open System.Collections.Generic
open System.Diagnostics
open System.IO
open System.Text
open System.Text.Json
open System.Text.Json.Nodes
open System.Threading.Tasks
open Dsl.Cli.Tests.RunDsl

/// How long to wait for one message before calling the server stuck (a guard against hanging the suite,
/// not a measurement: answers take milliseconds).
let private defaultPatience = TimeSpan.FromSeconds 60.0

let json (v: obj) = JsonSerializer.SerializeToNode v

/// `message?params?uri`: a member of a JSON object (null where absent).
let (?) (n: JsonNode) (key: string) = if isNull n then null else n[key]
let num (n: JsonNode) = n.GetValue<int>()
let str (n: JsonNode) = if isNull n then null else n.GetValue<string>()

type Client() =
    let psi = ProcessStartInfo("dotnet", WorkingDirectory = repoRoot, RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true)
    do psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "dsl.dll"))
    do psi.ArgumentList.Add "lsp"
    let p = Process.Start psi
    let errors = StringBuilder()
    do p.ErrorDataReceived.Add(fun e -> if not (isNull e.Data) then lock errors (fun () -> errors.AppendLine e.Data |> ignore))
    do p.BeginErrorReadLine()
    let input = p.StandardInput.BaseStream
    let output = p.StandardOutput.BaseStream
    let notifications = Queue<JsonNode>()
    let mutable nextId = 0
    let mutable patience = defaultPatience

    let readLine () =
        let sb = StringBuilder()
        let mutable b = output.ReadByte()
        while b >= 0 && b <> int '\n' do
            if b <> int '\r' then sb.Append(char b) |> ignore
            b <- output.ReadByte()
        if b < 0 then failwithf "dsl lsp closed its output; its standard error:\n%s" (string errors) else sb.ToString()

    let readMessage () =
        let rec headers length =
            match readLine () with
            | "" -> length
            | h when h.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase) -> headers (int (h.Substring(15).Trim()))
            | _ -> headers length
        let body = Array.zeroCreate<byte> (headers -1)
        let mutable read = 0
        while read < body.Length do
            let n = output.Read(body, read, body.Length - read)
            if n = 0 then failwith "dsl lsp closed its output in the middle of a message"
            read <- read + n
        JsonNode.Parse(ReadOnlySpan body)

    member _.Process = p

    /// How long <see cref="Receive"/> waits before failing the test (shorter where a hang is what is tested).
    member _.Patience with get () = patience and set v = patience <- v

    /// The messages without an id received while waiting for responses (notifications, parse errors), taken out.
    member _.TakeUnanswered() =
        let all = notifications.ToArray()
        notifications.Clear()
        all
    member _.StandardError = lock errors (fun () -> string errors)

    /// The next message the server writes.
    member c.Receive() =
        let t = Task.Run readMessage
        if not (t.Wait patience) then failwithf "dsl lsp wrote nothing for %O; its standard error:\n%s" patience c.StandardError
        t.Result

    member _.SendBytes(bytes: byte[]) =
        input.Write(bytes, 0, bytes.Length)
        input.Flush()

    /// One message with a correct header, whatever its body.
    member c.SendBody(body: byte[]) =
        c.SendBytes(Array.append (Encoding.ASCII.GetBytes(sprintf "Content-Length: %d\r\n\r\n" body.Length)) body)

    member c.Send(message: JsonNode) = c.SendBody(Encoding.UTF8.GetBytes(message.ToJsonString()))

    member c.Notify(methodName: string, parameters: obj) =
        c.Send(json {| jsonrpc = "2.0"; ``method`` = methodName; ``params`` = parameters |})

    /// Sends a request and returns its response, keeping notifications that arrive before it.
    member c.Request(methodName: string, parameters: obj) : JsonNode =
        nextId <- nextId + 1
        let id = nextId
        c.Send(json {| jsonrpc = "2.0"; id = id; ``method`` = methodName; ``params`` = parameters |})
        let rec wait () =
            let m = c.Receive()
            match m?id with
            | null -> notifications.Enqueue m; wait ()
            | i when i.GetValueKind() = JsonValueKind.Number && i.GetValue<int>() = id -> m
            | _ -> wait ()
        wait ()

    /// The next diagnostics published for a document.
    member c.Diagnostics(uri: string) : JsonArray =
        let rec next () =
            let m = if notifications.Count > 0 then notifications.Dequeue() else c.Receive()
            if str m?``method`` = "textDocument/publishDiagnostics" && str m?``params``?uri = uri then m?``params``?diagnostics.AsArray()
            else next ()
        next ()

    member c.Open(uri: string, text: string) =
        c.Notify("textDocument/didOpen", {| textDocument = {| uri = uri; languageId = "model"; version = 1; text = text |} |})

    member c.Change(uri: string, version: int, changes: obj[]) =
        c.Notify("textDocument/didChange", {| textDocument = {| uri = uri; version = version |}; contentChanges = changes |})

    member c.At(methodName: string, uri: string, line: int, character: int) =
        c.Request(methodName, {| textDocument = {| uri = uri |}; position = {| line = line; character = character |} |})

    /// `initialize`, as an editor begins.
    member c.Initialize() =
        let r = c.Request("initialize", {| processId = Environment.ProcessId; rootUri = null; capabilities = (JsonObject()) |})
        c.Notify("initialized", JsonObject())
        r

    interface IDisposable with
        member _.Dispose() =
            if not p.HasExited then p.Kill true
            p.Dispose()

let uriOf (path: string) = Uri(Path.GetFullPath path).AbsoluteUri
