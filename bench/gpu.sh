#!/usr/bin/env bash
# AlexNet training on a CUDA GPU in one go: `dsl bench` on dsl's CUDA device beside bench/torch_alexnet.py (the same
# network in PyTorch eager, cuDNN defaults: TF32 convolutions on; TF32 matmuls switched on), same batch, 1000 classes,
# synthetic data. Prints both throughputs, the ratio dsl/torch and each side's peak device memory as the program itself
# measures it (dsl: IDevice.PeakBytes, its buffers; PyTorch: torch.cuda.max_memory_allocated, its tensors).
# Pack the build first with ../shared/gpu/pack.sh Cli/Cli.fsproj and carry .gpu to the GPU machine.
#   usage: bench/gpu.sh [BATCH] [STEPS]     (PYTHON=... picks the Python with a CUDA build of PyTorch)
set -euo pipefail
cd "$(dirname "$0")/.."
batch=${1:-128}
steps=${2:-20}
py=${PYTHON:-python3}
dsl=(dotnet .gpu/Cli/dsl.dll)
[ -f .gpu/Cli/dsl.dll ] || dsl=(./dsl)
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
echo "date: $(date -u +%F)"
out=$(mktemp -d)
"${dsl[@]}" bench Models/alexnet.model --device cuda --batch "$batch" --steps "$steps" --warmup 5 --classes 1000 > "$out/dsl" 2>&1 \
  || { cat "$out/dsl"; exit 1; }
"$py" bench/torch_alexnet.py --device cuda --batch "$batch" --steps "$steps" --warmup 5 --classes 1000 > "$out/torch" 2>&1 \
  || { cat "$out/torch"; exit 1; }
echo "== dsl =="; cat "$out/dsl"
echo; echo "== PyTorch =="; cat "$out/torch"
field() { awk -v w="$2" '$1 == w {print $2; exit}' "$out/$1"; }
peak() { awk '$1 == "peak" && $2 == "device" {print $4; exit}' "$out/$1"; }
a=$(field dsl training:); b=$(field torch training:)
echo
echo "== AlexNet training, batch $batch =="
echo "dsl:     $a images/s, peak device memory $(peak dsl) MiB"
echo "PyTorch: $b images/s, peak device memory $(peak torch) MiB"
echo "training ratio dsl/torch: $(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f", a/b}')"
rm -rf "$out"
