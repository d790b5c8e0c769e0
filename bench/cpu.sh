#!/usr/bin/env bash
# Training and inference throughput of dsl's CPU device against PyTorch (Debian python3-torch with OpenBLAS)
# on the same machine, in one run: AlexNet at batch 32 (227x227) and lenet at batch 64.
#   usage: bench/cpu.sh [STEPS]
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-10}
threads=$(nproc)
py=/usr/bin/python3
$py -c 'import torch' 2>/dev/null || { echo "PyTorch missing: sudo apt-get install python3-torch libopenblas0-pthread" >&2; exit 1; }
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $threads cores; $(date -u +%F)"
for spec in "alexnet 32" "lenet 64"; do
  set -- $spec
  echo; echo "== $1, batch $2 =="
  ours=$(./dsl bench "Models/$1.model" --batch "$2" --steps "$steps" --warmup 5 --threads "$threads")
  theirs=$(cd bench && OMP_NUM_THREADS=$threads $py torch_bench.py "$1" --batch "$2" --steps "$steps" --warmup 5 --threads "$threads")
  echo "$ours" | sed -n '1,5p'; echo "$theirs"
  for what in training inference; do
    a=$(echo "$ours" | awk -v w="$what:" '$1==w {print $2}'); b=$(echo "$theirs" | awk -v w="$what:" '$1==w {print $2}')
    echo "$what ratio dsl/PyTorch: $(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f", a/b}')"
  done
  echo "$ours" | sed -n '/per kernel/,$p' | head -12
done
