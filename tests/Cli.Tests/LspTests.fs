/// `dsl lsp` driven as an editor drives it, over a pipe: diagnostics that match `dsl check`, hover with the
/// summary row, completion, definition, outline, and a server that survives malformed messages.
module Dsl.Cli.Tests.LspTests

open System
open System.IO
open System.Text
open System.Text.RegularExpressions
open System.Text.Json.Nodes
open Expecto
open Dsl.Cli.Tests.RunDsl
open Dsl.Cli.Tests.LspClient

let private position (line: int) (character: int) = {| line = line; character = character |}
let private edit (l1, c1) (l2, c2) (text: string) = box {| range = {| start = position l1 c1; ``end`` = position l2 c2 |}; text = text |}

/// What `dsl check` says about a file: line, column (from 1) and message of its error.
let private checkError (path: string) =
    let r = dsl [ "check"; path ]
    Expect.equal r.Code 2 "r.Code"
    let m = Regex.Match(r.Err, @"test\.model:(\d+):(\d+): error: (.*)")
    Expect.isTrue m.Success r.Err
    int m.Groups[1].Value, int m.Groups[2].Value, m.Groups[3].Value.TrimEnd()

let private start (d: JsonNode) = num d?range?start?line, num d?range?start?character

let private labels (r: JsonNode) = r?result.AsArray() |> Seq.map (fun i -> str i?label) |> Set.ofSeq

let private lineOf (text: string) (fragment: string) =
    text.Replace("\r\n", "\n").Split('\n') |> Array.findIndex (fun l -> l.Contains fragment)

let ``diagnostics on open and on change are dsl check's, and clear when fixed`` () =
    let v1 = "network typo\n  input 3 x 32 x 32\n  conv 16 kernl 3 |> relu\n  dense 10\n  softmax\n"
    let path = tempModel v1
    let uri = uriOf path
    use c = new Client()
    c.Initialize() |> ignore
    c.Open(uri, v1)
    let d = c.Diagnostics(uri) |> Seq.exactlyOne
    // By hand: `kernl` is on line 3 at column 11; LSP counts from 0.
    let line, col, message = checkError path
    Expect.equal (line, col) (3, 11) "(line, col)"
    Expect.equal (start d) (line - 1, col - 1) "start d"
    Expect.equal (str d?message) message "str d?message"
    Expect.equal (str (d?relatedInformation.AsArray()[0])?message) "hint: did you mean `kernel`?" "str (d?relatedInformation.AsArray()[0])?message"

    // Fix the option: the next error is the missing flatten, where `dsl check` puts it.
    c.Change(uri, 2, [| edit (2, 10) (2, 15) "kernel" |])
    let v2 = v1.Replace("kernl", "kernel")
    File.WriteAllText(path, v2)
    let d = c.Diagnostics(uri) |> Seq.exactlyOne
    let line, col, message = checkError path
    Expect.equal (line, col) (4, 3) "(line, col)"
    Expect.equal (start d) (line - 1, col - 1) "start d"
    Expect.equal (str d?message) message "str d?message"
    Expect.equal (str (d?relatedInformation.AsArray()[0])?message) "hint: add `flatten` before it" "str (d?relatedInformation.AsArray()[0])?message"

    c.Change(uri, 3, [| edit (3, 0) (3, 0) "  flatten\n" |])
    Expect.isEmpty (c.Diagnostics uri) "c.Diagnostics uri"
    // The server's text is the fixed file: a whole-text change back to the first version brings the error back.
    c.Change(uri, 4, [| box {| text = v1 |} |])
    Expect.equal (c.Diagnostics uri |> Seq.exactlyOne |> start) (2, 10) "c.Diagnostics uri |> Seq.exactlyOne |> start"

let ``hover on AlexNet's conv2 line shows its summary row`` () =
    let text = File.ReadAllText(Path.Combine(repoRoot, model "alexnet.model"))
    let uri = uriOf (Path.Combine(repoRoot, model "alexnet.model"))
    use c = new Client()
    c.Initialize() |> ignore
    c.Open(uri, text)
    Expect.isEmpty (c.Diagnostics uri) "c.Diagnostics uri"
    let line = lineOf text "conv 256 kernel 5"
    let value = str (c.At("textDocument/hover", uri, line, 3))?result?contents?value
    // By hand: conv 256 kernel 5 pad 2 groups 2 on 96x27x27 keeps 27x27; 256 * (96 / 2) * 5 * 5 + 256 biases.
    Expect.stringContains value "| conv2 |" "value"
    Expect.stringContains value "256x27x27" "value"
    Expect.stringContains value "307,456" "value"

let ``hover keeps the shapes of the layers before an error`` () =
    let text = "network typo\n  input 3 x 32 x 32\n  conv 16 kernel 3 |> relu\n  dense 10\n  softmax\n"
    let uri = uriOf (tempModel text)
    use c = new Client()
    c.Initialize() |> ignore
    c.Open(uri, text)
    Expect.equal (c.Diagnostics uri |> Seq.exactlyOne |> start) (3, 2) "c.Diagnostics uri |> Seq.exactlyOne |> start"
    let value = str (c.At("textDocument/hover", uri, 2, 3))?result?contents?value
    // By hand: a 3x3 kernel on 32x32 leaves 30x30; 16 * 3 * 9 weights + 16 biases.
    Expect.stringContains value "| conv1 | conv 16 filters 3/1 | 16x30x30 | 448 |" "value"
    Expect.stringContains value "error at line 4" "value"
    // The line in error and those after it have no shapes to show.
    Expect.isNull (c.At("textDocument/hover", uri, 3, 3)?result) ""

/// VGG-16 with ImageNet's 1000 classes written out: its train block reads a folder, whose class count is not known
/// before it is read, so as it stands the file stops at `dense classes` (as `dsl check` does without --classes).
let private vgg16 () =
    let text = File.ReadAllText(Path.Combine(repoRoot, model "vgg16.model")).Replace("dense classes", "dense 1000")
    let path = tempModel text
    uriOf path, text

let ``hover on a let use shows the layers it expands to`` () =
    let uri, text = vgg16 ()
    use c = new Client()
    c.Initialize() |> ignore
    c.Open(uri, text)
    let value = str (c.At("textDocument/hover", uri, lineOf text "block 64 2", 3))?result?contents?value
    // By hand: two 3x3 convolutions (each with its relu) padded by 1 keep 224x224, then a 2x2 pool halves it;
    // 64 * 3 * 9 + 64 parameters in the first.
    Expect.stringContains value "`block` expands to 5 layer(s)" "value"
    Expect.stringContains value "let block n depth" "value"
    Expect.stringContains value "| conv1 | conv 64 filters 3/1 pad 1 | 64x224x224 | 1,792 |" "value"
    Expect.stringContains value "| conv2 |" "value"
    Expect.stringContains value "64x112x112" "value"

let ``completion offers layer options, layer names and train-block keys and values`` () =
    let text = "let unit n = conv n kernel 3 |> relu\nnetwork c\n  input 3 x 32 x 32\n  conv 96 \n  conv 8 kernel 3 |> \ntrain\n  \n  optimizer sgd lr 0.1 \n"
    let uri = uriOf (tempModel text)
    use c = new Client()
    c.Initialize() |> ignore
    c.Open(uri, text)
    let at line character = labels (c.At("textDocument/completion", uri, line, character))
    let options = at 3 10
    for o in [ "kernel"; "stride"; "pad"; "groups" ] do Expect.contains options o "completions after conv"
    Expect.isFalse (options.Contains("relu")) ("contains " + "relu")
    // After `|>`, a layer or a let; an option already written is not offered again.
    let next = at 4 21
    for l in [ "relu"; "maxpool"; "dense"; "unit" ] do Expect.contains next l "completions after a pipe"
    Expect.isFalse ((at 4 17).Contains("kernel")) ("contains " + "kernel")
    let keys = at 6 2
    for k in [ "data"; "optimizer"; "epochs"; "batch" ] do Expect.contains keys k "train-block keys"
    let optimizer = (c.At("textDocument/completion", uri, 6, 2))?result.AsArray() |> Seq.find (fun i -> str i?label = "optimizer")
    Expect.equal (str optimizer?detail) "optimizer sgd lr 0.01 momentum 0.9" "str optimizer?detail"
    Expect.equal (at 7 23) (set [ "momentum"; "nesterov"; "weight-decay" ]) "completions after optimizer sgd"

let ``go to definition leads from a let use to the let, and the outline lists the layers`` () =
    let uri, text = vgg16 ()
    use c = new Client()
    c.Initialize() |> ignore
    c.Open(uri, text)
    let target = (c.At("textDocument/definition", uri, lineOf text "block 256 3", 4))?result
    Expect.equal (str target?uri) uri "str target?uri"
    Expect.equal (start target) (lineOf text "let block", 4) "start target"
    // From `convRelu` in block's body to its let.
    let use' = lineOf text "let block"
    let column = (text.Split('\n')).[use'].IndexOf "convRelu" + 2
    let target = (c.At("textDocument/definition", uri, use', column))?result
    Expect.equal (start target) (lineOf text "let convRelu", 4) "start target"
    let symbols = (c.Request("textDocument/documentSymbol", {| textDocument = {| uri = uri |} |}))?result.AsArray()
    let network = symbols |> Seq.find (fun s -> str s?name = "vgg16")
    let layers = network?children.AsArray() |> Seq.map (fun s -> str s?name) |> List.ofSeq
    // 13 convolutions, 13 relus, 5 pools, flatten, 3 dense, 2 more relus, 2 dropouts, softmax.
    Expect.equal layers.Length 40 "layers.Length"
    Expect.contains layers "conv13" "outline"
    Expect.contains layers "pool5" "outline"

/// Random model-looking text: words of the language in random order, so that the compiler gets past the first token.
let private modelish (rnd: Random) =
    let vocabulary = [| "network"; "n"; "input"; "3"; "x"; "32"; "conv"; "kernel"; "pad"; "(" ; ")"; "|>"; "then"; "repeat"; "let"; "="; "relu"
                        "dense"; "flatten"; "softmax"; "maxpool"; "classes"; "train"; "data"; "optimizer"; "sgd"; "lr"; "0.1"; ","; "-"; "/"; "*"
                        "\n"; "\n  "; "//"; "\""; "1e999"; "99999999999"; "\t"; "\r" |]
    String.Join(" ", Array.init (rnd.Next(1, 60)) (fun _ -> vocabulary[rnd.Next vocabulary.Length]))

let ``malformed messages and random files never stop the server`` () =
    let rnd = Random 16
    let uri = "file:///fuzz.model"
    use c = new Client()
    c.Initialize() |> ignore
    c.Open(uri, "network n\n  input 4\n  dense 2\n  softmax\n")
    let methods = [| "textDocument/hover"; "textDocument/completion"; "textDocument/definition"; "textDocument/documentSymbol"; "initialize"; "no/such" |]
    let junk () : obj =
        match rnd.Next 6 with
        | 0 -> null
        | 1 -> box (rnd.Next())
        | 2 -> box "text"
        | 3 -> box [| 1; 2 |]
        | 4 -> box {| textDocument = {| uri = uri |}; position = {| line = rnd.Next(-5, 10); character = rnd.Next(-5, 1000) |} |}
        | _ -> box {| textDocument = 7; position = "here" |}
    let mutable answered = 0
    for i in 1 .. 600 do
        match i % 6 with
        | 0 ->
            // A body of random bytes with a correct length.
            let body = Array.zeroCreate<byte> (rnd.Next(0, 200))
            rnd.NextBytes body
            c.SendBody body
        | 1 -> c.SendBytes(Encoding.ASCII.GetBytes "X-Junk: 1\r\nContent-Length: many\r\n\r\n")
        | 2 ->
            // A request with the wrong kinds of parameters: answered, with a result or an error.
            let r = c.Request(methods[rnd.Next methods.Length], junk ())
            Expect.isTrue (r.AsObject().ContainsKey "result" || not (isNull r?error)) (r.ToJsonString())
            answered <- answered + 1
        | 3 ->
            let bytes = Array.zeroCreate<byte> (rnd.Next(0, 400))
            rnd.NextBytes bytes
            c.Change(uri, i, [| box {| text = Encoding.Latin1.GetString bytes |} |])
        | 4 -> c.Change(uri, i, [| box {| text = modelish rnd |} |])
        | _ ->
            c.Notify("textDocument/didChange", junk ())
            c.SendBody(Encoding.ASCII.GetBytes(String.replicate 10000 "[" + String.replicate 10000 "]"))
    Expect.equal answered 100 "answered"
    Expect.isFalse c.Process.HasExited c.StandardError
    // Still serving: a good file compiles and answers hover.
    c.Change(uri, 1000, [| box {| text = "network n\n  input 4\n  dense 2\n  softmax\n" |} |])
    let value = str (c.At("textDocument/hover", uri, 2, 3))?result?contents?value
    Expect.stringContains value "| dense1 | dense 2 units | 2 | 10 |" "value"

/// Each frame whose Content-Length does not match its body, or is over the limit, is answered with a JSON-RPC parse
/// error, and the server reads the next message's header and answers it (before, it never answered again).
let ``after a malformed frame the server answers the next request`` () =
    let uri = "file:///frames.model"
    use c = new Client()
    c.Patience <- TimeSpan.FromSeconds 15.0
    c.Initialize() |> ignore
    c.Open(uri, "network n\n  input 4\n  dense 2\n  softmax\n")
    c.Diagnostics uri |> ignore
    let hover (id: int) (extra: string) =
        Encoding.UTF8.GetBytes(sprintf """{"jsonrpc":"2.0","id":%d,"method":"textDocument/hover","params":{"textDocument":{"uri":"%s"},"position":{"line":2,"character":3},"note":"%s"}}""" id uri extra)
    let framed (length: int64) (body: byte[]) = Array.append (Encoding.ASCII.GetBytes(sprintf "Content-Length: %d\r\n\r\n" length)) body
    let cases =
        [ "too short", (let b = hover 901 "" in framed (int64 b.Length - 5L) b)
          "too long", (let b = hover 902 "" in framed (int64 b.Length + 7L) b)
          // 20 characters of two UTF-8 bytes each, counted as 20 rather than 40.
          "counted in characters", (let b = hover 903 (String.replicate 20 "é") in framed (int64 (b.Length - 20)) b)
          "over the size limit", framed 70_000_000L (hover 904 "")
          "a body of garbage then a header glued to it", Array.append (framed 3L "{}}"B) "}}}]]\"\\"B ]
    for name, frame in cases do
        c.SendBytes frame
        let value = str (c.At("textDocument/hover", uri, 2, 3))?result?contents?value
        Expect.stringContains value "| dense1 | dense 2 units |" (sprintf "%s: the next request is answered" name)
        let errors = c.TakeUnanswered() |> Array.filter (fun m -> not (isNull m?error))
        Expect.equal (errors |> Array.map (fun m -> num m?error?code)) [| -32700 |] (sprintf "%s: one parse error" name)
    Expect.isFalse c.Process.HasExited c.StandardError

let ``shutdown then exit ends the server with code 0`` () =
    use c = new Client()
    c.Initialize() |> ignore
    Expect.isTrue (c.Request("shutdown", null).AsObject().ContainsKey "result") ""
    c.Notify("exit", null)
    Expect.isTrue (c.Process.WaitForExit 30000) "dsl lsp did not exit"
    Expect.equal c.Process.ExitCode 0 "c.Process.ExitCode"

[<Tests>]
let tests =
    testList "LspTests" [
        testCase "diagnostics on open and on change are dsl check's, and clear when fixed" ``diagnostics on open and on change are dsl check's, and clear when fixed``
        testCase "hover on AlexNet's conv2 line shows its summary row" ``hover on AlexNet's conv2 line shows its summary row``
        testCase "hover keeps the shapes of the layers before an error" ``hover keeps the shapes of the layers before an error``
        testCase "hover on a let use shows the layers it expands to" ``hover on a let use shows the layers it expands to``
        testCase "completion offers layer options, layer names and train-block keys and values" ``completion offers layer options, layer names and train-block keys and values``
        testCase "go to definition leads from a let use to the let, and the outline lists the layers" ``go to definition leads from a let use to the let, and the outline lists the layers``
        testCase "malformed messages and random files never stop the server" ``malformed messages and random files never stop the server``
        testCase "after a malformed frame the server answers the next request" ``after a malformed frame the server answers the next request``
        testCase "shutdown then exit ends the server with code 0" ``shutdown then exit ends the server with code 0``
    ]
