#!/usr/bin/env bash
# Interleaved A/B of CPU inference on a shared machine: an older dsl build (its published dsl.dll), this checkout's
# ./dsl and ONNX Runtime (bench/OrtBench on `dsl export` of the same model) take turns, ROUNDS times per batch size;
# each run prints its median batch time, and the load average is printed with every round.
#   usage: bench/cpu-ab.sh OLD_DSL_DLL MODEL [BATCH...]      e.g. ROUNDS=5 bench/cpu-ab.sh /tmp/base/dsl.dll cifar-bn 64 1
set -euo pipefail
cd "$(dirname "$0")/.."
old=$1 model=$2; shift 2
batches=("${@:-64 1}")
read -r -a batches <<<"${batches[*]}"
rounds=${ROUNDS:-5}
threads=$(nproc)
classes() { case $1 in lenet|cifar-bn) echo 10;; *) echo 1000;; esac; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dotnet build bench/OrtBench -c Release -o "$work/ort" -nologo -v q >/dev/null
./dsl export "Models/$model.model" --onnx "$work/$model.onnx" --classes "$(classes "$model")" >/dev/null
median() { sed -n 's/^inference:.*median \([0-9.]*\) ms.*/\1/p'; }
for batch in "${batches[@]}"; do
  n=10; [ "$batch" = 1 ] && n=100
  [ "$model" = vgg16 ] && n=$(( batch == 1 ? 10 : 1 ))
  echo "== $model, batch $batch, $n steps after 3 warm-up, $rounds rounds =="
  old_all=(); new_all=(); ort_all=()
  for r in $(seq "$rounds"); do
    a=$(dotnet "$old" bench "Models/$model.model" --classes "$(classes "$model")" --batch "$batch" --steps "$n" --warmup 3 --threads "$threads" | median)
    b=$(./dsl bench "Models/$model.model" --classes "$(classes "$model")" --batch "$batch" --steps "$n" --warmup 3 --threads "$threads" | median)
    c=$(dotnet "$work/ort/OrtBench.dll" "$work/$model.onnx" --batch "$batch" --steps "$n" --warmup 3 --threads "$threads" | median)
    old_all+=("$a"); new_all+=("$b"); ort_all+=("$c")
    echo "round $r: old $a ms, new $b ms, ORT $c ms; load $(cut -d' ' -f1-3 /proc/loadavg)"
  done
  mid() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
  best() { printf '%s\n' "$@" | sort -g | head -1; }
  o=$(mid "${old_all[@]}") nw=$(mid "${new_all[@]}") t=$(mid "${ort_all[@]}")
  ob=$(best "${old_all[@]}") nb=$(best "${new_all[@]}") tb=$(best "${ort_all[@]}")
  awk -v o="$o" -v n="$nw" -v t="$t" -v ob="$ob" -v nb="$nb" -v tb="$tb" 'BEGIN {
    printf "median of rounds: old %s, new %s, ORT %s ms: new/old speed-up %.2fx, ORT/new %.2fx, ORT/old %.2fx\n", o, n, t, o/n, t/n, t/o
    printf "best of rounds:   old %s, new %s, ORT %s ms: new/old speed-up %.2fx, ORT/new %.2fx, ORT/old %.2fx\n", ob, nb, tb, ob/nb, tb/nb, tb/ob }'
done
