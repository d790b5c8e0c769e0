#!/usr/bin/env bash
# dsl's CPU device against its peers on the same machine, in one run: PyTorch (Debian python3-torch, oneDNN/OpenBLAS)
# for training and inference, and ONNX Runtime (NuGet Microsoft.ML.OnnxRuntime) for inference, on two graphs of the
# same network: `dsl export` of the model file and PyTorch's own export of bench/torch_models.py (bench/torch_export.py). Each peer is checked to run at its best before any ratio is quoted (bench/peer_check.py). Every model in Models/ at batch 64 (throughput) and batch 1 (latency: median and p95).
#   usage: bench/cpu.sh [STEPS] [MODEL...]        e.g. bench/cpu.sh 20 lenet cifar-bn
#   ROUNDS=N runs dsl, ONNX Runtime and PyTorch N times each, in turn (default 2), keeping each one's fastest run: for
#   inference the run with the lowest median, for training the run with the highest rate (dsl and PyTorch time both in
#   one run, and a run slowed for a while by this VM may be slow in one of them only).
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-10}; shift || true
rounds=${ROUNDS:-2}
models=("${@:-lenet cifar-bn alexnet vgg16}")
read -r -a models <<<"${models[*]}"
threads=$(nproc)
py=/usr/bin/python3
$py -c 'import torch' 2>/dev/null || { echo "PyTorch missing: sudo apt-get install python3-torch libopenblas0-pthread" >&2; exit 1; }
# The machine's OPENBLAS_* settings (OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE) slow OpenBLAS: unset for the peer alone.
peer_env=(env); for v in $(compgen -e | grep '^OPENBLAS_' || true); do peer_env+=(-u "$v"); done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dotnet build bench/OrtBench -c Release -o "$work/ort" -nologo -v q >/dev/null
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $threads cores; $(date -u +%F)"
# A peer not at its best gives no ratio: its BLAS, oneDNN and thread count are checked and printed first.
echo "peers:"
if ! "${peer_env[@]}" OMP_NUM_THREADS=$threads $py bench/peer_check.py --threads "$threads" | sed 's/^/  /'; then
  echo "bench/cpu.sh: the PyTorch peer is not at its best (above); no ratios quoted" >&2; exit 1
fi
ort_header=$(dotnet "$work/ort/OrtBench.dll" --check --threads "$threads")
echo "  $ort_header"
[[ $ort_header == *"$threads intra-op threads"* ]] || { echo "bench/cpu.sh: ONNX Runtime does not run $threads threads; no ratios quoted" >&2; exit 1; }
field() { awk -v w="$1:" '$1==w {print $2}'; }
median() { sed -n "s/^$1:.*median \([0-9.]*\) ms.*/\1/p"; }
p95() { sed -n "s/^$1:.*p95 \([0-9.]*\) ms.*/\1/p"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a/b}'; }
# The class count each peer builds (bench/torch_models.py): model files whose data set does not say take it from here.
classes() { case $1 in lenet|cifar-bn) echo 10;; *) echo 1000;; esac; }
table="| model | batch | dsl inference, median (p95) | ONNX Runtime | ORT on PyTorch's export | PyTorch | dsl / ORT | dsl / ORT (PyTorch's export) | dsl training | PyTorch training | dsl / PyTorch | dsl training GFLOP/s (of peak) |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for m in "${models[@]}"; do
  ./dsl export "Models/$m.model" --onnx "$work/$m.onnx" --classes "$(classes "$m")" >/dev/null
  (cd bench && "${peer_env[@]}" $py torch_export.py "$m" "$work/$m.torch.onnx" >/dev/null 2>&1) ||
    { echo "bench/cpu.sh: PyTorch could not export $m to ONNX" >&2; exit 1; }
  for batch in 64 1; do
    # VGG16 at batch 64 is 1 TFLOP per inference batch and 3 per training step (PyTorch takes about a minute for one):
    # one warm-up and one timed step keep the run within minutes. Batch 1 takes ten times the steps (VGG16's as many).
    n=$steps; w=3
    [ "$m" = vgg16 ] && [ "$batch" = 64 ] && { n=1; w=1; }
    [ "$batch" = 1 ] && [ "$m" != vgg16 ] && n=$(( steps * 10 ))
    echo; echo "== $m, batch $batch, $n steps =="
    # Everyone takes turns, $rounds runs each, and each keeps its fastest run: on a shared machine one run in three or
    # four came out twice as slow, for any of them. ours/torch: the runs with the lowest median inference time;
    # ours_t/torch_t: the runs with the highest training rate.
    ours=""; ort=""; tort=""; torch=""; ours_t=""; torch_t=""
    faster() { [ -z "$2" ] || awk -v a="$(echo "$1" | median inference)" -v b="$(echo "$2" | median inference)" 'BEGIN {exit !(a < b)}'; }
    trains_faster() { [ -z "$2" ] || awk -v a="$(echo "$1" | field training)" -v b="$(echo "$2" | field training)" 'BEGIN {exit !(a > b)}'; }
    for _ in $(seq "$rounds"); do
      o=$(./dsl bench "Models/$m.model" --classes "$(classes "$m")" --batch "$batch" --steps "$n" --warmup "$w" --threads "$threads")
      r=$(dotnet "$work/ort/OrtBench.dll" "$work/$m.onnx" --batch "$batch" --steps "$n" --warmup "$w" --threads "$threads")
      t=$(dotnet "$work/ort/OrtBench.dll" "$work/$m.torch.onnx" --batch "$batch" --steps "$n" --warmup "$w" --threads "$threads")
      p=$(cd bench && "${peer_env[@]}" OMP_NUM_THREADS=$threads $py torch_bench.py "$m" --batch "$batch" --steps "$n" --warmup "$w" --threads "$threads")
      faster "$o" "$ours" && ours=$o
      faster "$r" "$ort" && ort=$r
      faster "$t" "$tort" && tort=$t
      faster "$p" "$torch" && torch=$p
      trains_faster "$o" "$ours_t" && ours_t=$o
      trains_faster "$p" "$torch_t" && torch_t=$p
    done
    echo "$ours_t" | sed -n '2p;/^arithmetic/p' | sed 's/^/dsl      /'
    echo "$ours" | sed -n '3p' | sed 's/^/dsl      /'
    echo "$torch_t" | sed -n '2p' | sed 's/^/PyTorch  /'
    echo "$torch" | sed -n '3p' | sed 's/^/PyTorch  /'
    echo "$ort" | sed -n '2p' | sed 's/^/ORT-dsl     /'
    echo "$tort" | sed -n '2p' | sed 's/^/ORT-PyTorch /'
    # Ratios of median batch times (inference) and of mean step rates (training): > 1 means dsl is faster.
    vs_ort=$(ratio "$(echo "$ort" | median inference)" "$(echo "$ours" | median inference)")
    vs_tort=$(ratio "$(echo "$tort" | median inference)" "$(echo "$ours" | median inference)")
    vs_torch=$(ratio "$(echo "$ours_t" | field training)" "$(echo "$torch_t" | field training)")
    echo "inference dsl vs ONNX Runtime (median): ${vs_ort}x, on PyTorch's export ${vs_tort}x; training dsl vs PyTorch: ${vs_torch}x"
    gf=$(echo "$ours_t" | sed -n 's/^arithmetic: .*, training \([0-9.]*\) GFLOP\/s (\([0-9]*%\)).*/\1 (\2)/p')
    table+="
| $m | $batch | $(echo "$ours" | median inference) ms ($(echo "$ours" | p95 inference)) | $(echo "$ort" | median inference) ms ($(echo "$ort" | p95 inference)) | $(echo "$tort" | median inference) ms ($(echo "$tort" | p95 inference)) | $(echo "$torch" | median inference) ms | ${vs_ort}x | ${vs_tort}x | $(echo "$ours_t" | field training) img/s | $(echo "$torch_t" | field training) img/s | ${vs_torch}x | $gf |"
  done
done
echo
echo "$table"
