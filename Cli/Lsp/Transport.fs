/// The Language Server Protocol's framing: `Content-Length: N` headers, a blank line, then N bytes of JSON.
/// Written here rather than taken from StreamJsonRpc because a server in an editor must outlive any
/// malformed message (StreamJsonRpc disconnects on a parse error); here a bad header block is skipped,
/// a bad body or a Content-Length that does not match it becomes a JSON-RPC parse error (-32700), and
/// the reader finds the next message's header and goes on.
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
let private marker = "content-length:"B

let private isSpace b = b = ' 'B || b = '\t'B || b = '\r'B || b = '\n'B
let private lower (b: int) = if b >= int 'A'B && b <= int 'Z'B then b + 32 else b
let private isToken (c: char) = Char.IsAsciiLetterOrDigit c || c = '-'

/// Reads messages and, after one framed wrong (a Content-Length too short, too long, counted in characters rather
/// than UTF-8 bytes, or over the limit), finds the next: bytes that cannot be a header are dropped up to the next
/// `Content-Length:`, and a JSON object that ends before its declared length, followed by that header, ends there.
type Reader(input: Stream) =
    let stream = new BufferedStream(input)
    // Bytes read ahead that belong to the next message (the header found while resynchronising).
    let pending = System.Collections.Generic.Queue<byte>()

    let readByte () = if pending.Count > 0 then int (pending.Dequeue()) else stream.ReadByte()

    /// Drops bytes up to and including the next `Content-Length:` (any case), which is put back to be read as a header
    /// line; the count of bytes dropped, or None at the end of the input.
    let resync (alreadyDropped: int) =
        let mutable matched = 0
        let mutable read = 0
        let mutable b = 0
        // The marker's first letter occurs nowhere else in it, so a mismatch restarts the match at this byte.
        while matched < marker.Length && (b <- readByte (); b >= 0) do
            read <- read + 1
            matched <- if lower b = int marker[matched] then matched + 1 elif lower b = int marker[0] then 1 else 0
        if matched < marker.Length then None
        else
            for c in "Content-Length:"B do pending.Enqueue c
            Some(alreadyDropped + read - marker.Length)

    /// One header line without its line break (over-long lines are cut), Some(Error dropped) where the bytes were not a
    /// header and the reader moved on to the next `Content-Length:`, None at the end of the input.
    let readLine () =
        let sb = StringBuilder()
        let mutable b = readByte ()
        let mutable colon = false
        let mutable bad = false
        if b < 0 then None
        else
            while b >= 0 && b <> int '\n' && not bad do
                let c = char b
                // A header is `Name: value`: anything else before the colon is the rest of a message framed wrong.
                if not colon && c = ':' && sb.Length > 0 then colon <- true
                elif not colon && c <> '\r' && (not (isToken c) || sb.Length > 64) then bad <- true
                if not bad then
                    if c <> '\r' && sb.Length < maxHeaderLine then sb.Append c |> ignore
                    b <- readByte ()
            if bad || (not colon && sb.Length > 0) then
                match resync (sb.Length + 1) with
                | Some dropped -> Some(Error dropped)
                | None -> None
            else Some(Ok(sb.ToString()))

    /// The body of <paramref name="n"/> bytes. While the body is one JSON object, its end is tracked: if the object
    /// closes and the next message's `Content-Length:` follows, before n bytes or straddling the n-th, the length was
    /// too long and the header is left to be read next.
    let readBody (n: int) =
        let body = System.Collections.Generic.List<byte>(n)
        let mutable depth = 0
        let mutable inString = false
        let mutable escaped = false
        let mutable tracking = true
        let mutable closedAt = -1
        let mutable matched = 0
        let mutable result = None
        let notTooLong () =
            // Bytes after the object that are not the next header: the body is as long as it says; any read past its end
            // belong to the next message.
            for k in n .. body.Count - 1 do pending.Enqueue body[k]
            if body.Count > n then body.RemoveRange(n, body.Count - n)
            closedAt <- -1
            tracking <- false
        while result.IsNone && (body.Count < n || closedAt >= 0 && matched > 0) do
            let b = readByte ()
            if b < 0 then result <- Some EndOfInput
            else
                let c = byte b
                body.Add c
                if closedAt >= 0 then
                    if lower b = int marker[matched] then
                        matched <- matched + 1
                        if matched = marker.Length then
                            for k in body.Count - matched .. body.Count - 1 do pending.Enqueue body[k]
                            result <- Some(Unreadable(sprintf "Content-Length %d is more than the message's %d bytes (the next message's header came first)" n closedAt))
                    elif matched > 0 || not (isSpace c) then notTooLong ()
                elif tracking then
                    if inString then
                        if escaped then escaped <- false
                        elif c = '\\'B then escaped <- true
                        elif c = '"'B then inString <- false
                    elif c = '"'B then inString <- true
                    elif c = '{'B || c = '['B then depth <- depth + 1
                    elif c = '}'B || c = ']'B then
                        depth <- depth - 1
                        if depth = 0 then closedAt <- body.Count
                    elif depth = 0 && not (isSpace c) then tracking <- false
        match result with
        | Some r -> r
        | None ->
            try
                match JsonNode.Parse(ReadOnlySpan(body.ToArray())) with
                | :? JsonObject as o -> Message o
                | _ -> Unreadable "the body is not a JSON object"
            with e -> Unreadable(sprintf "the body is not JSON (is its Content-Length, %d, the body's length in UTF-8 bytes?): %s" n e.Message)

    member _.Read() : Incoming =
        // Headers until a blank line; blank lines before any header are skipped.
        let rec headers acc =
            match readLine () with
            | None -> None
            | Some(Error dropped) -> Some(Error dropped)
            | Some(Ok "") when List.isEmpty acc -> headers acc
            | Some(Ok "") -> Some(Ok(List.rev acc))
            | Some(Ok line) -> headers (line :: acc)
        match headers [] with
        | None -> EndOfInput
        | Some(Error dropped) -> BadHeader(sprintf "%d bytes that were not a message (the rest of one framed wrong?), up to the next Content-Length header" dropped)
        | Some(Ok lines) ->
            let length =
                lines |> List.tryPick (fun l ->
                    match l.Split(':', 2) with
                    | [| k; v |] when k.Trim().Equals("Content-Length", StringComparison.OrdinalIgnoreCase) ->
                        match Int64.TryParse(v.Trim()) with
                        | true, n -> Some n
                        | _ -> Some -1L
                    | _ -> None)
            match length with
            | None -> BadHeader "a header block without Content-Length"
            | Some n when n < 0L -> BadHeader "a Content-Length that is not a number of bytes"
            // Answered, so that the request it carried does not wait forever; its body is dropped by the resync.
            | Some n when n > int64 maxBody -> Unreadable(sprintf "Content-Length %d is over the limit of %d bytes; the message is skipped" n maxBody)
            | Some n -> readBody (int n)

/// Writes whole messages; one writer per output stream.
type Writer(output: Stream) =
    member _.Write(message: JsonNode) =
        let body = Encoding.UTF8.GetBytes(message.ToJsonString())
        let header = Encoding.ASCII.GetBytes(sprintf "Content-Length: %d\r\n\r\n" body.Length)
        output.Write(header, 0, header.Length)
        output.Write(body, 0, body.Length)
        output.Flush()
