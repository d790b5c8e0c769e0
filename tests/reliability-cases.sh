#!/usr/bin/env bash
# The cases of docs/reliability.md, tried against the built CLI (dotnet build Dsl.sln -c Release first); one line each:
#   case | exit code | the line of its output that matters.
# Needs root (it mounts small tmpfs file systems for the read-only and full-disk cases), python3, mkfifo.
set -u
W=$(cd "$(dirname "$0")/.." && pwd)
D="dotnet $W/Cli/bin/Release/net10.0/dsl.dll"
export DSL_DATA=$W/tests/data DSL_DATA_MIRROR=http://127.0.0.1:9/
T=$(mktemp -d); cd $T
cat > tiny.model <<'M'
network tiny
  input 1 x 8 x 8
  conv 4 kernel 3 |> relu
  flatten
  dense classes
  softmax
train
  data synthetic 3
  optimizer sgd lr 0.05 momentum 0.9
  batch 32
  epochs 2
M
sed 's/epochs 2/epochs 100000/' tiny.model > long.model
row() { printf '%s | %s | %s\n' "$1" "$2" "$(echo "$3" | grep -v '^auto:' | grep -m1 -E "${4:-.}" | cut -c1-220)"; }
try() { local name=$1 pat=$2; shift 2; local out; out=$("$@" 2>&1 >/dev/null); row "$name" $? "$out" "$pat"; }
tryout() { local name=$1 pat=$2; shift 2; local out; out=$("$@" 2>&1); row "$name" $? "$out" "$pat"; }
png=$W/tests/Dsl.Runtime.Tests/Images/data/grey8.png
mkfolder() { rm -rf $1; for c in tshirt sneaker; do mkdir -p $1/$c; for i in $(seq 1 120); do cp $png $1/$c/$i.png; done; done; }
fmodel() { printf 'network f\n  input 1 x 8 x 8\n  flatten\n  dense classes\n  softmax\ntrain\n  data folder "%s"\n  batch 8\n  epochs 1\n' "$1" > $2; }

mkfolder loops; ln -s .. loops/tshirt/up; ln -s . loops/sneaker/me; fmodel $T/loops loops.model
tryout "symlink loops (tshirt/up -> .., sneaker/me -> .)" "image folder" $D run loops.model --out r-loops
mkfolder fifo; mkfifo fifo/tshirt/pipe.png; ln -s /dev/zero fifo/sneaker/zero.png; fmodel $T/fifo fifo.model
tryout "a FIFO and a link to /dev/zero in the folder" "skipped" timeout 120 $D run fifo.model --out r-fifo
mkfolder empty; mkdir empty/boot; fmodel $T/empty empty.model
try "an empty class folder" . $D run empty.model --out r-empty
rm -rf single; mkdir -p single/only; cp $png single/only/1.png; fmodel $T/single single.model
try "a single-class folder" . $D run single.model --out r-single
tryout "check counts folder classes" . $D check loops.model

$D run tiny.model --out good >/dev/null 2>&1
$D run long.model --out shared >shared.log 2>&1 & first=$!
while ! grep -q '^epoch' shared.log 2>/dev/null; do sleep 0.2; done
try "a second run on the same --out" . $D run tiny.model --out shared
kill -TERM $first; wait $first; row "SIGTERM to a running run" $? "$(cat shared.log)" "stopped|continue"
# A shell script's background jobs (and anything started from a background script) ignore SIGINT; python3 puts the
# default action back before starting the run, as a terminal's Ctrl-C would find it.
python3 -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])' \
  dotnet $W/Cli/bin/Release/net10.0/dsl.dll run long.model --out sigint >sigint.log 2>&1 & p=$!
while ! grep -q '^epoch' sigint.log 2>/dev/null; do sleep 0.2; done
kill -INT $p; wait $p; row "SIGINT (Ctrl-C) to a running run" $? "$(cat sigint.log)" "continue"
$D run long.model --out killed >killed.log 2>&1 & p=$!
while ! grep -q '^epoch' killed.log 2>/dev/null; do sleep 0.2; done
kill -KILL $p; wait $p 2>/dev/null
tryout "resume after SIGKILL (stale run.lock)" "resuming from|error|dsl:" $D run --resume killed --epochs 2
echo x > afile
try "--out is a file" . $D run tiny.model --out afile
try "--out under /proc" . $D run tiny.model --out /proc/dsl-run
mkdir -p ro; mount -t tmpfs -o size=8m tmpfs ro && cp -r good ro/run && mount -o remount,ro ro
try "--out on a read-only file system" . $D run tiny.model --out ro/new
try "--resume on a read-only file system" . $D run --resume ro/run --epochs 3
tryout "eval on a read-only run folder" "warning|accuracy" $D eval ro/run
umount -l ro
mkdir -p full; mount -t tmpfs -o size=4m tmpfs full
printf 'network bigger\n  input 1 x 16 x 16\n  flatten\n  dense 512 |> relu\n  dense classes\n  softmax\ntrain\n  data synthetic 3\n  optimizer sgd lr 0.01 momentum 0.9\n  batch 32\n  epochs 1\n' > bigger.model
$D run bigger.model --out full/run >/dev/null 2>&1; sum1=$(md5sum < full/run/last.safetensors)
free=$(df --output=avail -B1 full | tail -1); head -c $((free - 65536)) /dev/zero > full/filler
try "a full disk while checkpointing" . $D run --resume full/run --epochs 2
row "  ... the previous checkpoint" - "$( [ "$(md5sum < full/run/last.safetensors)" = "$sum1" ] && echo unchanged || echo CHANGED); tmp files left: $(ls full/run | grep -c tmp)"
umount -l full
try "a run that fails before its first step (--limit 10 < batch)" . $D run tiny.model --out never --limit 10
row "  ... the folder it would have made" - "$( [ -e never ] && echo LEFT BEHIND || echo absent)"

cp -r good nan; python3 - nan/last.safetensors <<'P'
import sys,struct; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); b[-4:]=struct.pack('<f',float('nan')); open(p,'wb').write(b)
P
sum1=$(md5sum < nan/weights.safetensors)
try "resume from a checkpoint holding NaN" . $D run --resume nan --epochs 3
row "  ... weights.safetensors" - "$( [ "$(md5sum < nan/weights.safetensors)" = "$sum1" ] && echo unchanged || echo CHANGED)"
cp -r good nanw; python3 - nanw/weights.safetensors <<'P'
import sys,struct; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); b[-4:]=struct.pack('<f',float('nan')); open(p,'wb').write(b)
P
try "eval with NaN in weights.safetensors" . $D eval nanw
try "predict with NaN in weights.safetensors" . $D predict nanw $png
cp -r good huge; python3 - huge/weights.safetensors <<'P'
import sys,struct; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); b[:8]=struct.pack('<q',2**63-1); open(p,'wb').write(b)
P
try "header length 2^63-1" . $D eval huge
cp -r good neg; python3 - neg/weights.safetensors <<'P'
import sys,struct,json; p=sys.argv[1]; b=open(p,'rb').read(); n=struct.unpack('<q',b[:8])[0]; h=json.loads(b[8:8+n])
k=[x for x in h if x!='__metadata__'][0]; h[k]['data_offsets']=[-8, h[k]['data_offsets'][1]]
j=json.dumps(h).encode(); j+=b' '*((8-len(j)%8)%8); open(p,'wb').write(struct.pack('<q',len(j))+j+b[8+n:])
P
try "negative data_offsets" . $D eval neg
cp -r good lap; python3 - lap/weights.safetensors <<'P'
import sys,struct,json; p=sys.argv[1]; b=open(p,'rb').read(); n=struct.unpack('<q',b[:8])[0]; h=json.loads(b[8:8+n])
ks=[x for x in h if x!='__metadata__']; h[ks[1]]['data_offsets']=[0, h[ks[1]]['data_offsets'][1]-h[ks[1]]['data_offsets'][0]]
j=json.dumps(h).encode(); j+=b' '*((8-len(j)%8)%8); open(p,'wb').write(struct.pack('<q',len(j))+j+b[8+n:])
P
try "overlapping data_offsets" . $D eval lap

try "unknown option before the file (--limt)" . $D run --limt 2000 $W/Models/alexnet.model
try "unknown option after the file (--nosuch)" . $D run $W/Models/alexnet.model --nosuch
try "two model files" . $D check $W/Models/lenet.model $W/Models/alexnet.model
tryout "--resume with --epochs" "resuming with" $D run --resume good --epochs 3
try "--resume with --batch" . $D run --resume good --batch 8
sed -i 's/lr 0.05/lr 0.01/' good/model.model
tryout "--resume after the run's model file's lr was edited" "learning rate" $D run --resume good --epochs 4
mkdir -p nockpt; cp good/model.model good/run.json nockpt/
tryout "--resume without a checkpoint" "no checkpoint" $D run --resume nockpt
try "--device nosuch" . $D run tiny.model --device nosuch
try "predict --top 0" . $D predict good $png --top 0
try "a folder as the model file" . $D check $W/Models
mkfifo p.png
try "predict on a FIFO" . timeout 60 $D predict good p.png
try "predict on /dev/zero" . timeout 60 $D predict good /dev/zero
try "predict on a folder" . $D predict good $W/Models
sed 's/conv 4/conv 5/' tiny.model > wider.model; cp wider.model good/model.model
try "a checkpoint of another shape" . $D run --resume good --epochs 5

try "AlexNet training step at batch 2,800 (CPU, 24 GiB)" . $D bench $W/Models/alexnet.model --batch 2800 --device cpu --steps 1 --warmup 0
printf 'network big\n  input 3 x 227 x 227\n  flatten\n  dense 20000 |> relu\n  dense classes\n  softmax\n' > big.model
try "dense 20000 after a 227x227x3 input" . $D bench big.model --device cpu --classes 10 --steps 1 --warmup 0

# ---- Issue 24, part B: file links across classes, LSP frames, mirrors that misbehave, a damaged cache, damaged PNGs.
# (Threads and the C# API's arguments are library cases: ThreadingTests and ApiArgumentTests.)
mkfolder xlink; ln -s $T/xlink/tshirt/1.png xlink/sneaker/stolen.png; fmodel $T/xlink xlink.model
tryout "a file link from one class folder into another" "counted where it is" $D run xlink.model --out r-xlink
lsp() { python3 - "$@" <<'P'
import subprocess, sys, time, json, select
kind = sys.argv[1]
p = subprocess.Popen(sys.argv[2:] + ["lsp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
def frame(body, n=None): return b"Content-Length: %d\r\n\r\n" % (len(body) if n is None else n) + body
req = lambda i, note="": json.dumps({"jsonrpc": "2.0", "id": i, "method": "initialize", "params": {"note": note}}).encode()
bad = {"short": frame(req(1), len(req(1)) - 5), "long": frame(req(1), len(req(1)) + 7),
       "chars": frame(req(1, "é" * 20), len(req(1, "é" * 20)) - 20), "huge": frame(req(1), 70_000_000)}[kind]
p.stdin.write(bad + frame(req(2))); p.stdin.flush()
out, start = b"", time.time()
while b'"id":2' not in out and time.time() - start < 20:
    if select.select([p.stdout], [], [], 1)[0]: out += p.stdout.read1(65536)
p.kill()
print(("answered the next request" if b'"id":2' in out else "NO ANSWER in 20 s") + (", parse error -32700 first" if b"-32700" in out else ""))
P
}
for k in short long chars huge; do tryout "dsl lsp: a frame whose Content-Length is $k, then a good request" . lsp $k $D; done
server() { python3 - "$1" <<'P' & sleep 1
import socket, sys, time, threading
kind = sys.argv[1]; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", 8931)); s.listen()
def serve(c):
    try:
        c.recv(65536)
        if kind == "silent": time.sleep(600)
        elif kind == "trickle":
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 9912422\r\n\r\n")
            while True: c.sendall(b"0123456789"); time.sleep(20)
        else:
            c.sendall(b"HTTP/1.1 200 OK\r\n\r\n")
            while True: c.sendall(bytes(65536))
    except OSError: pass
while True: threading.Thread(target=serve, args=(s.accept()[0],), daemon=True).start()
P
}
for k in silent trickle endless; do
  server $k; sp=$!
  mkdir -p c-$k; tryout "dsl data get mnist from a mirror that is $k" "tried|more than|announces" env DSL_DATA= XDG_CACHE_HOME=$T/c-$k DSL_DATA_MIRROR=http://127.0.0.1:8931/ timeout 900 $D data get mnist
  row "  ... left in the cache" - "$(find c-$k -type f | wc -l) files, $(du -sk c-$k | cut -f1) KiB"
  kill $sp
done
mkdir -p c-gz/dsl/datasets/fashion-mnist; cp $W/tests/data/fashion-mnist/*.gz c-gz/dsl/datasets/fashion-mnist/
python3 -c "import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); b[len(b)//2]^=0xFF; open(p,'wb').write(b)" c-gz/dsl/datasets/fashion-mnist/train-labels-idx1-ubyte.gz
tryout "dsl data get with a changed byte in a cached .gz" "damaged" env DSL_DATA= XDG_CACHE_HOME=$T/c-gz $D data get fashion-mnist
mkdir -p gz; cp $W/tests/data/fashion-mnist/*.gz gz/
python3 -c "import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); b[len(b)//2]^=0xFF; open(p,'wb').write(b)" gz/train-labels-idx1-ubyte.gz
printf 'network f\n  input 1 x 28 x 28\n  flatten\n  dense classes\n  softmax\ntrain\n  data fashion-mnist\n  batch 32\n  epochs 1\n' > fm.model
try "dsl run with a changed byte in a .gz under DSL_DATA" . env DSL_DATA=$T/gz $D run fm.model --out r-gz
python3 - <<'P'
import zlib, struct
def chunk(t, d): return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d))
sig = b'\x89PNG\r\n\x1a\n'
good = sig + chunk(b'IHDR', struct.pack('>IIBBBBB', 2, 2, 8, 0, 0, 0, 0)) + chunk(b'IDAT', zlib.compress(b'\0\x10\x20\0\x30\x40')) + chunk(b'IEND', b'')
bad = bytearray(good); bad[29] ^= 1; open('crc.png', 'wb').write(bad)
open('empty.png', 'wb').write(sig + chunk(b'IHDR', struct.pack('>IIBBBBB', 0, 0, 8, 0, 0, 0, 0)) + chunk(b'IDAT', zlib.compress(b'')) + chunk(b'IEND', b''))
P
$D run tiny.model --out good2 >/dev/null 2>&1
try "predict on a PNG with a bad CRC" . $D predict good2 crc.png
try "predict on a 0x0 PNG" . $D predict good2 empty.png

# ---- Issue 24 part A: nothing overwritten, signals within a step, closed streams, optimiser numbers, long lines,
# ---- very long networks. `good` is re-made: the cases above edited its model.
rm -rf good; $D run tiny.model --out good >/dev/null 2>&1
mknod dev-null c 1 3 2>/dev/null
try "export onto a device node (mknod c 1 3)" . $D export good --onnx dev-null
row "  ... the device node" - "$(stat -c %F dev-null 2>/dev/null)"
mkfifo export.fifo
try "export onto a FIFO" . timeout 60 $D export good --onnx export.fifo
echo keep > kept.onnx; ln -sf kept.onnx link.onnx
try "export onto a symbolic link" . $D export good --onnx link.onnx
row "  ... the link" - "$(stat -c %F link.onnx), its target: $(cat kept.onnx)"
sum1=$(md5sum < good/weights.safetensors)
try "export onto the run's weights.safetensors" . $D export good --onnx good/weights.safetensors
try "export onto the run's metrics.csv" . $D export good --onnx good/metrics.csv
row "  ... weights.safetensors" - "$( [ "$(md5sum < good/weights.safetensors)" = "$sum1" ] && echo unchanged || echo CHANGED)"
try "export onto a folder" . $D export good --onnx good
tryout "export onto a previous .onnx" "replaced|wrote" $D export good --onnx kept.onnx
echo mine > notes.txt
try "export onto another file without --force" . $D export good --onnx notes.txt
try "run --out naming a finished run" . $D run tiny.model --out good
ln -sfn good good-link
try "run --out naming a link to a finished run" . $D run tiny.model --out good-link
row "  ... the finished run's weights" - "$( [ "$(md5sum < good/weights.safetensors)" = "$sum1" ] && echo unchanged || echo CHANGED)"
mkdir -p notes-dir; echo mine > notes-dir/notes.txt
try "run --out naming a folder of other files" . $D run tiny.model --out notes-dir
try "run --out \"\"" . $D run tiny.model --out ""
for sig in TERM HUP; do
  $D run long.model --limit 32 --out one-step-$sig >one-step-$sig.log 2>&1 & p=$!
  while ! grep -q '^epoch' one-step-$sig.log 2>/dev/null; do sleep 0.2; done
  t0=$(date +%s%N); kill -$sig $p; wait $p; rc=$?; ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  row "SIG$sig to a run of one-step epochs" $rc "$(grep -E '^stopped' one-step-$sig.log) (exit after $ms ms; test pass run: $(grep -c '^test: loss' one-step-$sig.log))"
done
sed 's/  batch 32/  schedule cosine\n  batch 32/' tiny.model > cosine.model; $D run cosine.model --out cosine >/dev/null 2>&1
tryout "--resume --epochs 3 past a finished 2-epoch cosine" "cosine schedule" $D run --resume cosine --epochs 3
row "  ... epoch 3's learning rate (metrics.csv)" - "$(sed -n 4p cosine/metrics.csv | cut -d, -f7)"
mkdir -p early; echo "4194305 638000000000000000" > early/run.lock; cp tiny.model early/model.model; head -c 1500000 /dev/zero > early/last.safetensors.4194305.tmp
try "--resume on a folder killed before run.json" . $D run --resume early
tryout "run --out on that folder" "removed" $D run tiny.model --out early
row "  ... the temporary file" - "$( [ -e early/last.safetensors.4194305.tmp ] && echo LEFT || echo removed)"
bash -c "exec $D run tiny.model --out closed-out >&-" 2>/dev/null; row "stdout closed (>&-)" $? "weights: $(ls closed-out/weights.safetensors 2>&1)"
bash -c "exec $D run tiny.model --out closed-err 2>&-" >/dev/null; row "stderr closed (2>&-)" $? "weights: $(ls closed-err/weights.safetensors 2>&1)"
sed 's/momentum 0.9/momentum -1/' tiny.model > mom.model; try "momentum -1" . $D check mom.model
sed 's/momentum 0.9/momentum 0.9 weight-decay -1/' tiny.model > wd.model; try "weight-decay -1" . $D check wd.model
python3 -c "print('network big\n  input 1 x 8 x 8\n  flatten\n  dense 4 ' + 'x'*8000000 + '\n  dense classes\n  softmax')" > longline.model
out=$($D check longline.model 2>&1); row "an error on an 8 MB line" $? "$(echo "$out" | wc -c) characters printed: $(echo "$out" | sed -n 2p | cut -c1-60)…"
printf 'network long\n  input 16\n  repeat 1500 (dense 16 |> relu)\n  dense classes\n  softmax\n' > long3k.model
t0=$(date +%s%N); lines=$($D summary long3k.model --classes 3 --batch 32 | wc -l); ms=$(( ($(date +%s%N) - t0) / 1000000 ))
row "summary --batch 32 of 3,002 layers" $? "$lines lines in $ms ms; with --all $($D summary long3k.model --classes 3 --all | wc -l) lines"
cd /; rm -rf $T
