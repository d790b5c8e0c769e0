#!/usr/bin/env bash
# dsl's CPU device against its peers on the same machine, in one run: PyTorch (Debian python3-torch, oneDNN/OpenBLAS)
# for training and inference, and ONNX Runtime (NuGet Microsoft.ML.OnnxRuntime, running `dsl export` of the same
# network) for inference. Every model in Models/ at batch 64 (throughput) and batch 1 (latency: median and p95).
#   usage: bench/cpu.sh [STEPS] [MODEL...]        e.g. bench/cpu.sh 20 lenet cifar-bn
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-10}; shift || true
models=("${@:-lenet cifar-bn alexnet vgg16}")
read -r -a models <<<"${models[*]}"
threads=$(nproc)
py=/usr/bin/python3
$py -c 'import torch' 2>/dev/null || { echo "PyTorch missing: sudo apt-get install python3-torch" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dotnet build bench/OrtBench -c Release -o "$work/ort" -nologo -v q >/dev/null
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $threads cores; $(date -u +%F)"
field() { awk -v w="$1:" '$1==w {print $2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a/b}'; }
for m in "${models[@]}"; do
  ./dsl export "Models/$m.model" --onnx "$work/$m.onnx" >/dev/null
  for batch in 64 1; do
    # VGG16 at batch 64 is 1 TFLOP per inference batch: fewer steps keep the run within minutes.
    n=$steps; [ "$m" = vgg16 ] && [ "$batch" = 64 ] && n=$(( steps < 3 ? steps : 3 ))
    echo; echo "== $m, batch $batch, $n steps =="
    ours=$(./dsl bench "Models/$m.model" --batch "$batch" --steps "$n" --warmup 3 --threads "$threads")
    torch=$(cd bench && OMP_NUM_THREADS=$threads $py torch_bench.py "$m" --batch "$batch" --steps "$n" --warmup 3 --threads "$threads")
    ort=$(dotnet "$work/ort/OrtBench.dll" "$work/$m.onnx" --batch "$batch" --steps "$n" --warmup 3 --threads "$threads")
    echo "$ours" | sed -n '2,3p' | sed 's/^/dsl      /'
    echo "$torch" | sed -n '2,3p' | sed 's/^/PyTorch  /'
    echo "$ort" | sed -n '2p' | sed 's/^/ONNX RT  /'
    echo "training  dsl/PyTorch: $(ratio "$(echo "$ours" | field training)" "$(echo "$torch" | field training)")"
    echo "inference dsl/PyTorch: $(ratio "$(echo "$ours" | field inference)" "$(echo "$torch" | field inference)"),  dsl/ONNX Runtime: $(ratio "$(echo "$ours" | field inference)" "$(echo "$ort" | field inference)")"
  done
done
