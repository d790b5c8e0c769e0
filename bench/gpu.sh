#!/usr/bin/env bash
# AlexNet training on a CUDA GPU: dsl's CUDA device beside PyTorch (cuDNN defaults, TF32 convolutions and matmuls on),
# batch 128, printing both throughputs, their ratio and each side's peak GPU memory. Not run on this project's build
# machine (no GPU); pack the build first with ../shared/gpu/pack.sh Cli/Cli.fsproj and carry .gpu to the GPU machine.
#   usage: bench/gpu.sh [BATCH]
set -euo pipefail
cd "$(dirname "$0")/.."
batch=${1:-128}
command -v nvidia-smi >/dev/null || { echo "no nvidia-smi: this needs a machine with an NVIDIA GPU" >&2; exit 1; }
dotnet .gpu/Cli/dsl.dll devices
# Peak memory of each side as nvidia-smi sees the process's usage, sampled every 100 ms while it runs.
peak() {
  local pidfile=$1 log=$2; : > "$log"
  while [ -e "$pidfile" ]; do nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits >> "$log" 2>/dev/null || true; sleep 0.1; done
}
run() {
  local name=$1; shift
  local flag; flag=$(mktemp); local log; log=$(mktemp)
  base=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits | head -1)
  peak "$flag" "$log" & local sampler=$!
  "$@" > "/tmp/gpu-$name.out" 2>&1 || { rm -f "$flag"; wait "$sampler"; cat "/tmp/gpu-$name.out"; exit 1; }
  rm -f "$flag"; wait "$sampler"
  echo "== $name =="; cat "/tmp/gpu-$name.out"
  echo "$name peak GPU memory: $(( $(sort -n "$log" | tail -1) - base )) MiB above the idle $base MiB"
}
run dsl dotnet .gpu/Cli/dsl.dll bench Models/alexnet.model --device cuda --batch "$batch"
run torch python3 bench/torch_bench.py alexnet --device cuda --batch "$batch"
dsl=$(awk '$1=="training:" {print $2}' /tmp/gpu-dsl.out)
torch=$(awk '$1=="training:" {print $2}' /tmp/gpu-torch.out)
echo "training ratio dsl/torch: $(awk -v a="$dsl" -v b="$torch" 'BEGIN {printf "%.2f", a/b}')"
