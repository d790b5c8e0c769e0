#!/usr/bin/env bash
# CPU inference of an older dsl build (its published dsl.dll), this checkout's ./dsl and ONNX Runtime under the
# contention a shared machine brings, made on purpose so that it can be repeated: "free" (as the machine is), "one
# core" (the process pinned to CPU 0 with `taskset`, its threads sharing it) and "hog" (a busy loop in a session of
# its own, at the same autogroup priority as this script's, competing for the cores). ROUNDS rounds per case, each
# prints the three median batch times and the load average.
#   usage: bench/cpu-contention.sh OLD_DSL_DLL MODEL [BATCH]      e.g. ROUNDS=3 bench/cpu-contention.sh /tmp/base/dsl.dll cifar-bn 1
# Run it with a raised autogroup priority (echo -15 > /proc/self/autogroup, as root) to keep other users' jobs from
# deciding the outcome; the hog then gets the same priority in its own autogroup.
set -euo pipefail
cd "$(dirname "$0")/.."
old=$1 model=$2 batch=${3:-1}
rounds=${ROUNDS:-3}
threads=$(nproc)
steps=$(( batch == 1 ? 100 : 10 ))
classes() { case $1 in lenet|cifar-bn) echo 10;; *) echo 1000;; esac; }
work=$(mktemp -d)
hog=""
trap '[ -z "$hog" ] || kill "$hog" 2>/dev/null; rm -rf "$work"' EXIT
dotnet build bench/OrtBench -c Release -o "$work/ort" -nologo -v q >/dev/null
./dsl export "Models/$model.model" --onnx "$work/$model.onnx" --classes "$(classes "$model")" >/dev/null
median() { sed -n 's/^inference:.*median \([0-9.]*\) ms.*/\1/p'; }
nice_of_autogroup=$(sed -n 's/.*nice \(-*[0-9]*\)/\1/p' /proc/self/autogroup 2>/dev/null || echo 0)
for case in free "one core" hog; do
  pin=(); [ "$case" = "one core" ] && pin=(taskset -c 0)
  if [ "$case" = hog ]; then
    setsid bash -c "echo \$\$ > $work/hog; echo $nice_of_autogroup > /proc/self/autogroup 2>/dev/null; exec sh -c 'while :; do :; done'" &
    sleep 0.5
    hog=$(cat "$work/hog")
  fi
  echo "== $model, batch $batch, $steps steps after 3 warm-up, $threads threads: $case =="
  for r in $(seq "$rounds"); do
    a=$("${pin[@]}" dotnet "$old" bench "Models/$model.model" --classes "$(classes "$model")" --batch "$batch" --steps "$steps" --warmup 3 --threads "$threads" 2>/dev/null | median)
    b=$("${pin[@]}" ./dsl bench "Models/$model.model" --classes "$(classes "$model")" --batch "$batch" --steps "$steps" --warmup 3 --threads "$threads" 2>/dev/null | median)
    c=$("${pin[@]}" dotnet "$work/ort/OrtBench.dll" "$work/$model.onnx" --batch "$batch" --steps "$steps" --warmup 3 --threads "$threads" | median)
    echo "round $r: old $a ms, new $b ms, ORT $c ms; load $(cut -d' ' -f1-3 /proc/loadavg)"
  done
  if [ -n "$hog" ]; then kill "$hog"; hog=""; fi
done
