/// The Language Server Protocol's framing: `Content-Length: N` headers, a blank line, then N bytes of JSON.
/// Written here rather than taken from StreamJsonRpc because a server in an editor must outlive any
/// malformed message (StreamJsonRpc disconnects on a parse error); here a bad header block is skipped
/// and a bad body becomes a JSON-RPC parse error, and the next message is read as usual.
module Dsl.Cli.Lsp.Transport

open System
open System.IO
open System.Text
open System.Text.Json.Nodes

/// What one read from the stream gave.
type Incoming =
    | Message of JsonNode
    /// A body that is not a JSON object: answered with a parse error, then reading goes on.
    | Unreadable of reason: string
    /// A header block without a usable Content-Length: there is no body to read, so it is only logged.
    | BadHeader of reason: string
    | EndOfInput

/// Bodies larger than this are refused (a model file is a few kilobytes; this bounds memory on garbage).
let maxBody = 64 * 1024 * 1024
let private maxHeaderLine = 8192

type Reader(input: Stream) =
    let stream = new BufferedStream(input)

    /// One header line without its line break; None at the end of the input. Over-long lines are cut.
    let readLine () =
        let sb = StringBuilder()
        let mutable b = stream.ReadByte()
        if b < 0 then None
        else
            while b >= 0 && b <> int '\n' do
                if b <> int '\r' && sb.Length < maxHeaderLine then sb.Append(char b) |> ignore
                b <- stream.ReadByte()
            Some(sb.ToString())

    let rec readExactly (buffer: byte[]) offset =
        if offset = buffer.Length then true
        else
            let n = stream.Read(buffer, offset, buffer.Length - offset)
            n > 0 && readExactly buffer (offset + n)

    member _.Read() : Incoming =
        // Headers until a blank line; blank lines before any header are skipped.
        let rec headers acc =
            match readLine () with
            | None -> None
            | Some "" when List.isEmpty acc -> headers acc
            | Some "" -> Some(List.rev acc)
            | Some line -> headers (line :: acc)
        match headers [] with
        | None -> EndOfInput
        | Some lines ->
            let length =
                lines |> List.tryPick (fun l ->
                    match l.Split(':', 2) with
                    | [| k; v |] when k.Trim().Equals("Content-Length", StringComparison.OrdinalIgnoreCase) ->
                        match Int32.TryParse(v.Trim()) with
                        | true, n -> Some n
                        | _ -> Some -1
                    | _ -> None)
            match length with
            | None -> BadHeader "a header block without Content-Length"
            | Some n when n < 0 || n > maxBody -> BadHeader(sprintf "Content-Length must be 0 to %d bytes" maxBody)
            | Some n ->
                let body = Array.zeroCreate<byte> n
                if not (readExactly body 0) then EndOfInput
                else
                    try
                        match JsonNode.Parse(ReadOnlySpan body) with
                        | :? JsonObject as o -> Message o
                        | _ -> Unreadable "the body is not a JSON object"
                    with e -> Unreadable("the body is not JSON: " + e.Message)

/// Writes whole messages; one writer per output stream.
type Writer(output: Stream) =
    member _.Write(message: JsonNode) =
        let body = Encoding.UTF8.GetBytes(message.ToJsonString())
        let header = Encoding.ASCII.GetBytes(sprintf "Content-Length: %d\r\n\r\n" body.Length)
        output.Write(header, 0, header.Length)
        output.Write(body, 0, body.Length)
        output.Flush()
