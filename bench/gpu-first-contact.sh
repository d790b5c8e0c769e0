#!/usr/bin/env bash
# CUDA's first contact in one command: every check that needs a GPU, each under its own time limit, the whole within
# 8 minutes, going on to the next step when one fails. Writes OUT/report.md (what ran, what did not and why, the figures)
# and one log per step beside it.
#   usage: bench/gpu-first-contact.sh OUT
# On the GPU machine (no .NET there): pack first with `bench/gpu-pack.sh`, carry .gpu, and run
# `bench/gpu-first-contact.sh $OUT/first-contact`. Without .gpu it runs ./dsl from the checkout.
# Environment: PYTHON (a Python with a CUDA build of PyTorch; default python3), FIRST_CONTACT_SECONDS (default 480).
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: bench/gpu-first-contact.sh OUT}
mkdir -p "$out"
out=$(cd "$out" && pwd)
budget=${FIRST_CONTACT_SECONDS:-480}
py=${PYTHON:-python3}
start=$SECONDS
rows=()      # report table rows, one per step
notes=()     # figures and comparisons, after the table

# --- the dsl command: the packed build (with the packed runtime where the machine has no dotnet), else ./dsl ----------
if [ -f .gpu/Cli/dsl.dll ]; then
  if ! command -v dotnet >/dev/null && [ -f .gpu/dotnet.tar.gz ]; then
    mkdir -p /tmp/dotnet && tar -C /tmp/dotnet -xzf .gpu/dotnet.tar.gz
    export DOTNET_ROOT=/tmp/dotnet PATH=/tmp/dotnet:$PATH
  fi
  dsl=(dotnet .gpu/Cli/dsl.dll)
else
  dsl=(./dsl)
fi
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
# Fashion-MNIST from Debian's package where the machine has it, else the subset the checkout ships (2,000 training and
# 1,000 test images), unless DSL_DATA says: set, so that dsl never tries to download it (the GPU machine reaches no network).
if [ -z "${DSL_DATA:-}" ]; then
  if [ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then DSL_DATA=/usr/share/datasets/fashion-mnist
  else DSL_DATA=$PWD/tests/data/fashion-mnist; fi
fi
export DSL_DATA
# An empty kernel cache of our own, so compile times are cold where they say so and no earlier run's PTX is reused.
export XDG_CACHE_HOME=$out/cache

left() { echo $((budget - (SECONDS - start))); }

# Why a finished step failed, in one line: the first line that says so with the lines that continue it (dsl lists
# every library path it tried beneath), else the log's last line.
why() {
  local line
  line=$(awk '/^(device|dsl|data|error|training stopped|Unhandled exception|RuntimeError|torch|.*Error:)/ {n = 6} n > 0 {printf "%s ", $0; n--}' "$1" 2>/dev/null)
  [ -n "$line" ] || line=$(grep -v '^\s*$' "$1" 2>/dev/null | tail -n 1)
  echo "${line:-no output}" | tr -s ' ' | cut -c1-400 | tr '|' '/'
}

# step NAME LIMIT COMMAND...: runs COMMAND under min(LIMIT, the budget left), its output in NAME.log; one report row.
step() {
  local name=$1 limit=$2; shift 2
  local log="$out/$name.log" t0=$SECONDS rc
  local rest; rest=$(left)
  if [ "$rest" -lt 10 ]; then
    rows+=("| $name | skipped | 0 | the script's ${budget}-second budget was spent |")
    echo "== $name: skipped, budget spent"
    return 99
  fi
  [ "$limit" -gt "$rest" ] && limit=$rest
  echo "== $name (limit ${limit}s): $*"
  { echo "\$ $*"; echo; } > "$log"
  timeout --kill-after=10 "$limit" "$@" >> "$log" 2>&1
  rc=$?
  local took=$((SECONDS - t0))
  if [ $rc -eq 0 ]; then rows+=("| $name | ok | $took | |")
  elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then rows+=("| $name | timed out | $took | killed after its ${limit}-second limit; last line: $(why "$log") |")
  else rows+=("| $name | failed (exit $rc) | $took | $(why "$log") |")
  fi
  echo "   -> exit $rc in ${took}s"
  return $rc
}

# skip NAME WHY: a step that cannot run here, and why.
skip() { rows+=("| $1 | skipped | 0 | $2 |"); echo "== $1: skipped: $2"; }

field() { awk -v w="$2" '$1 == w {print $2; exit}' "$out/$1.log" 2>/dev/null; }
peak() { awk '$1 == "peak" && $2 == "device" {print $4; exit}' "$out/$1.log" 2>/dev/null; }
testline() { grep '^test: loss' "$out/$1.log" 2>/dev/null | tail -n 1; }

# --- 1. the machine ------------------------------------------------------------------------------------------------------
step machine 20 bash -c '
  echo "date: $(date -u +%FT%TZ)"; echo "host: $(uname -srm), $(nproc) cores, $(free -g | awk "/Mem:/ {print \$2}") GiB"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"; echo "data: $DSL_DATA"
  if command -v nvidia-smi >/dev/null; then nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader
  else echo "nvidia-smi: not found"; fi
  echo "dotnet: $(dotnet --list-runtimes 2>/dev/null | grep NETCore | tail -n1 || echo none)"
  echo "nvrtc: $(ldconfig -p 2>/dev/null | grep -o "libnvrtc.so[^ ]*" | head -n1 | grep . || ls /usr/local/cuda*/lib64/libnvrtc.so* 2>/dev/null | head -n1 || echo none found by ldconfig)"'

have_gpu=0
command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1 && have_gpu=1
have_torch=0
torch_why=$("$py" -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available())' 2>&1 | tail -n1)
case "$torch_why" in torch*True) have_torch=1 ;; esac
echo "   gpu: $have_gpu; $torch_why"

# --- 2. devices ------------------------------------------------------------------------------------------------------------
step devices 45 "${dsl[@]}" devices
grep -Eq '^CUDA .*\[cuda(:[0-9]+)?\]' "$out/devices.log" 2>/dev/null && cuda_found=1 || cuda_found=0
[ $cuda_found -eq 1 ] || notes+=("- dsl found no CUDA device: $(awk '/^CUDA +none: / {n = 6; sub(/^CUDA +none: /, "")} n > 0 {printf "%s ", $0; n--}' "$out/devices.log" | tr -s ' ' | cut -c1-400)")

# lenet on the CPU device in the background (half the cores), the reference for lenet on CUDA below; the harness meanwhile
# uses the GPU and one host thread, and the timed runs wait for it to finish.
cpu_threads=$(( $(nproc) / 2 )); [ $cpu_threads -lt 1 ] && cpu_threads=1
lenet_cpu_limit=$(( $(left) - 20 )); [ $lenet_cpu_limit -gt 180 ] && lenet_cpu_limit=180
( step lenet-cpu "$lenet_cpu_limit" "${dsl[@]}" run Models/lenet.model --device cpu --threads $cpu_threads --epochs 1 --seed 1 --out "$out/runs/lenet-cpu"
  printf '%s\n' "${rows[-1]}" > "$out/.lenet-cpu.row" ) &
lenet_cpu=$!

# Steps in order of what the first contact is for: the harness in the default precision, then the AlexNet figures, then
# the rest; a step that would pass the budget gets what is left, and none starts with under 10 s.
# (The CUDA steps run even where dsl found no device: each then stops at once, its reason in dsl's own words.)

# --- 3. the kernel harness on CUDA, TF32 tensor cores (the default) -----------------------------------------------------------
step selftest-tf32 100 "${dsl[@]}" selftest --device cuda --precision tf32
# ... and ILGPU's kernels (the path a machine without NVRTC takes), which only ILGPU's CPU accelerator has run so far.
step selftest-ilgpu 60 "${dsl[@]}" selftest --device cuda --kernels ilgpu

# --- 4. AlexNet training at batch 128: dsl (every GEMM tile configuration) against PyTorch (cuDNN, TF32) ----------------------
# standard: 64x64 tiles; pipelined: 128x128 with cp.async stages in dynamic shared memory and ldmatrix (the Hopper-sized GEMM);
# large: 128x128 loaded and computed in turn. Then the harness with the pipelined tiles, whose asynchronous copies and
# fragment loads only a GPU runs for real (the tests run them through an emulator).
echo "== waiting for lenet-cpu, so that the timed runs have the host to themselves"
wait $lenet_cpu
[ -f "$out/.lenet-cpu.row" ] && rows+=("$(cat "$out/.lenet-cpu.row")") && rm -f "$out/.lenet-cpu.row"
tile_configs="standard pipelined large"
for tiles in $tile_configs; do
  step alexnet-dsl-$tiles 90 "${dsl[@]}" bench Models/alexnet.model --device cuda --tiles $tiles --batch 128 --steps 20 --warmup 5 --classes 1000
done
if [ $have_torch -eq 1 ]; then
  step alexnet-torch 90 "$py" bench/torch_alexnet.py --device cuda --batch 128 --steps 20 --warmup 5 --classes 1000
else
  skip alexnet-torch "no PyTorch with CUDA in $py: $torch_why"
fi
# ILGPU's kernels (one thread per output, no tiles or tensor cores): fewer steps, as they may be far slower.
step alexnet-dsl-ilgpu 60 "${dsl[@]}" bench Models/alexnet.model --device cuda --kernels ilgpu --batch 128 --steps 5 --warmup 2 --classes 1000
b=$(field alexnet-torch training:); pb=$(peak alexnet-torch)
notes+=("- AlexNet training, batch 128, PyTorch (cuDNN, TF32): ${b:--} images/s, peak device memory ${pb:--} MiB")
step selftest-tf32-pipelined 80 "${dsl[@]}" selftest --device cuda --precision tf32 --tiles pipelined
for tiles in $tile_configs; do
  a=$(field alexnet-dsl-$tiles training:); pa=$(peak alexnet-dsl-$tiles)
  ratio="-"; [ -n "$a" ] && [ -n "$b" ] && ratio=$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f", a/b}')
  notes+=("- AlexNet training, batch 128, dsl with $tiles GEMM tiles: ${a:--} images/s, peak device memory ${pa:--} MiB; ratio to PyTorch **$ratio**")
  grep -m1 '^compile' "$out/alexnet-dsl-$tiles.log" >/dev/null 2>&1 && notes+=("  - $(grep -m1 '^compile' "$out/alexnet-dsl-$tiles.log")")
  # The five slowest kernels of the profiled training step (the whole table is in the log).
  while read -r line; do notes+=("  - slowest: \`$line\`"); done < <(sed -n '/^per kernel/,$p' "$out/alexnet-dsl-$tiles.log" 2>/dev/null | sed -n '2,6p' | sed 's/^ *//')
done
a=$(field alexnet-dsl-ilgpu training:); standard=$(field alexnet-dsl-standard training:)
ratio="-"; [ -n "$a" ] && [ -n "$b" ] && ratio=$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f", a/b}')
notes+=("- AlexNet training, batch 128, dsl with ILGPU's kernels: ${a:--} images/s (NVRTC, standard tiles: ${standard:--}); ratio to PyTorch **$ratio**")

# --- 5. lenet, one epoch, seed 1, on CUDA beside the CPU run; the harness in FP32 ----------------------------------------------
step lenet-cuda 120 "${dsl[@]}" run Models/lenet.model --device cuda --epochs 1 --seed 1 --out "$out/runs/lenet-cuda"
step lenet-cuda-ilgpu 90 "${dsl[@]}" run Models/lenet.model --device cuda --kernels ilgpu --epochs 1 --seed 1 --out "$out/runs/lenet-cuda-ilgpu"
notes+=("- lenet, 1 epoch, seed 1: CPU \`$(testline lenet-cpu || echo "no test line")\`; CUDA \`$(testline lenet-cuda || echo "no test line")\`; CUDA with ILGPU's kernels \`$(testline lenet-cuda-ilgpu || echo "no test line")\`")
step selftest-fp32 100 "${dsl[@]}" selftest --device cuda --precision fp32

# --- 6. out of memory: PyTorch holds all but 1.5 GiB; dsl at batch 128 must stop and name a batch that fits, which must run --
if [ $cuda_found -eq 1 ] && [ $have_torch -eq 1 ]; then
  "$py" -c '
import sys, time, torch
free, total = torch.cuda.mem_get_info()
hold = torch.empty(int(free - 1.5 * 2**30), dtype=torch.uint8, device="cuda")
print(f"holding {hold.numel() / 2**30:.1f} GiB of {total / 2**30:.1f} GiB", flush=True)
time.sleep(150)' > "$out/oom-holder.log" 2>&1 &
  holder=$!
  for _ in $(seq 60); do grep -q holding "$out/oom-holder.log" && break; sleep 0.5; done
  step oom-probe 60 "${dsl[@]}" bench Models/alexnet.model --device cuda --batch 128 --steps 2 --warmup 1 --classes 1000
  probe=$?
  fits=$(grep -o -- '--batch [0-9]*' "$out/oom-probe.log" | head -n1 | awk '{print $2}')
  if [ $probe -eq 0 ]; then notes+=("- out-of-memory probe: batch 128 ran beside PyTorch's hold ($(cat "$out/oom-holder.log" | head -n1)): not a probe; raise the batch")
  elif [ -n "$fits" ]; then
    step oom-fits 60 "${dsl[@]}" bench Models/alexnet.model --device cuda --batch "$fits" --steps 2 --warmup 1 --classes 1000
    fitsrc=$?
    notes+=("- out-of-memory probe: \`$(why "$out/oom-probe.log")\`; the batch it names ($fits) then ran: $([ $fitsrc -eq 0 ] && echo yes || echo NO)")
  else notes+=("- out-of-memory probe: the message names no batch that fits: \`$(why "$out/oom-probe.log")\`")
  fi
  kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null
else
  skip oom-probe "needs a CUDA device and PyTorch with CUDA to hold the memory ($torch_why)"
fi

# --- 7. the harness with the large tiles; what ptxas makes of AlexNet's kernels with this machine's NVRTC (no GPU needed; CI checks NVRTC 11.8's) ---------------
step selftest-tf32-large 75 "${dsl[@]}" selftest --device cuda --precision tf32 --tiles large
step kernels-sm_90 60 "${dsl[@]}" kernels Models/alexnet.model --target cuda:sm_90 --batch 128 --classes 1000 --out "$out/kernels-alexnet-sm_90"

# --- the report ------------------------------------------------------------------------------------------------------------
{
  echo "# CUDA first contact"
  echo
  echo "\`bench/gpu-first-contact.sh\`, $(date -u +%FT%TZ), $(($SECONDS - start)) s of a ${budget}-second budget."
  echo
  sed '1,/^$/d' "$out/machine.log" | sed 's/^/    /'
  echo
  echo "| step | result | seconds | why / last line |"
  echo "| --- | --- | --- | --- |"
  printf '%s\n' "${rows[@]}"
  echo
  echo "## Figures"
  echo
  printf '%s\n' "${notes[@]}"
  echo
  echo "Each step's full output is in STEP.log beside this file; the kernel sources and ptxas table in kernels-alexnet-sm_90/."
} > "$out/report.md"
echo "report: $out/report.md"
