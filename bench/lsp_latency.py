#!/usr/bin/env python3
"""How long `dsl lsp` takes to answer while a model file is being edited: an editor's messages over a pipe
(initialize, didOpen of AlexNet, then edits, each followed by hover and completion), timed from the last byte
sent to the last byte of the answer. The first answers include start-up JIT; the rest are what typing sees.
usage: bench/lsp_latency.py [--rounds N] [--server 'COMMAND'] [--model FILE]"""
import argparse
import json
import os
import shlex
import statistics
import subprocess
import time

here = os.path.dirname(os.path.abspath(__file__))
p = argparse.ArgumentParser()
p.add_argument("--rounds", type=int, default=200)
p.add_argument("--server", default=os.path.join(here, "..", "dsl") + " lsp")
p.add_argument("--model", default=os.path.join(here, "..", "Models", "alexnet.model"))
a = p.parse_args()

server = subprocess.Popen(shlex.split(a.server), stdin=subprocess.PIPE, stdout=subprocess.PIPE)


def send(message):
    body = json.dumps(message).encode()
    server.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    server.stdin.flush()


def receive():
    length = None
    while True:
        line = server.stdout.readline().decode().strip()
        if not line:
            break
        key, value = line.split(":", 1)
        if key.lower() == "content-length":
            length = int(value)
    return json.loads(server.stdout.read(length))


def timed(send_it, done):
    """Seconds from sending to the first message for which done(message) holds."""
    start = time.perf_counter()
    send_it()
    while not done(receive()):
        pass
    return time.perf_counter() - start


next_id = 0


def request(method, params):
    global next_id
    next_id += 1
    i = next_id
    return timed(lambda: send({"jsonrpc": "2.0", "id": i, "method": method, "params": params}), lambda m: m.get("id") == i)


uri = "file://" + os.path.abspath(a.model)
text = open(a.model).read()
lines = text.split("\n")
conv2 = next(i for i, l in enumerate(lines) if l.strip().startswith("conv 256"))
# An edit that types and then deletes one character at the end of the conv2 line (the file compiles either way).
end = len(lines[conv2])


def edit(version):
    insert = version % 2 == 0
    change = {"range": {"start": {"line": conv2, "character": end}, "end": {"line": conv2, "character": end if insert else end + 1}},
              "text": " " if insert else ""}
    return lambda: send({"jsonrpc": "2.0", "method": "textDocument/didChange",
                         "params": {"textDocument": {"uri": uri, "version": version}, "contentChanges": [change]}})


def diagnostics(m):
    return m.get("method") == "textDocument/publishDiagnostics"


startup = request("initialize", {"processId": os.getpid(), "rootUri": None, "capabilities": {}})
send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
times = {"open + diagnostics": [], "change + diagnostics": [], "hover": [], "completion": []}
times["open + diagnostics"].append(timed(lambda: send({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {
    "textDocument": {"uri": uri, "languageId": "model", "version": 1, "text": text}}}), diagnostics))
at = {"textDocument": {"uri": uri}, "position": {"line": conv2, "character": 3}}
after_conv = {"textDocument": {"uri": uri}, "position": {"line": conv2, "character": lines[conv2].index("conv 256") + 9}}
for r in range(a.rounds):
    times["change + diagnostics"].append(timed(edit(r + 2), diagnostics))
    times["hover"].append(request("textDocument/hover", at))
    times["completion"].append(request("textDocument/completion", after_conv))
request("shutdown", None)
send({"jsonrpc": "2.0", "method": "exit"})
server.wait()

print(f"model: {os.path.relpath(a.model)} ({len(lines)} lines), {a.rounds} rounds; initialize answered in {startup * 1000:.0f} ms")
print(f"{'answer':<22} {'first ms':>9} {'median ms':>10} {'p95 ms':>8} {'max ms':>8}   (median, p95 and max: all but the first)")
for name, ts in times.items():
    ms = [t * 1000 for t in ts]
    rest = sorted(ms[1:]) or ms
    p95 = rest[min(len(rest) - 1, int(0.95 * len(rest)))]
    print(f"{name:<22} {ms[0]:>9.1f} {statistics.median(rest):>10.2f} {p95:>8.2f} {max(rest):>8.2f}")
