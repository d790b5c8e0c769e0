#!/usr/bin/env bash
# The gradient allreduce overlapped with the backward pass against averaged after it (DSL_OVERLAP=1 / 0), 2 processes
# x 1 thread, over Open MPI's shared memory (its default here) and over TCP (`--mca btl tcp,self`, standing in for a
# network between machines), interleaved ROUNDS times so that every configuration sees the same machine. Prints each
# run's 2nd epoch (warm): its seconds (steps and validation, from metrics.csv) and its training throughput (steps
# only, whole img/s), and the allreduce line of its log, which says how long the averaging made each step wait and,
# overlapped, how much of the allreduce the backward pass hid.
# Usage: bench/mpi-overlap.sh [ROUNDS] [MODEL...]   (models: lenet alexnet; default both; DSL_BUCKET_MB passes through)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-2}
shift || true
models=("${@:-lenet alexnet}")
export DSL_DATA=$PWD/tests/data XDG_CACHE_HOME=$(mktemp -d) DSL_DATA_MIRROR=http://127.0.0.1:9/
./dsl --version >/dev/null
dll=$PWD/.build/dsl/dsl.dll
out=$(mktemp -d)
trap 'rm -rf "$out" "$XDG_CACHE_HOME"' EXIT
# A shared machine: this script's session (run it under setsid) asks for more of the CPU where it may.
echo -15 > /proc/$$/autogroup 2>/dev/null || true
declare -A args=(
  [lenet]="Models/lenet.model --epochs 2 --limit 1280 --batch 64"
  [alexnet]="Models/alexnet.model --epochs 2 --limit 320 --batch 64")
for name in ${models[*]}; do
  for r in $(seq "$rounds"); do
    for transport in shm tcp; do
      for overlap in 1 0; do
        dir="$out/$name-$transport-$overlap-$r"
        btl=(); [ "$transport" = tcp ] && btl=(--mca btl tcp,self)
        DSL_OVERLAP=$overlap mpirun --allow-run-as-root --oversubscribe --bind-to none "${btl[@]}" -np 2 \
          dotnet "$dll" run ${args[$name]} --device cpu --threads 1 --out "$dir" >"$dir.log" 2>&1 || true
        ips=$(grep -E '^epoch +2 ' "$dir.log" | grep -oE '[0-9.]+ img/s$' | cut -d' ' -f1 || true)
        seconds=$(awk -F, '$1 == 2 { printf "%.2f s", $8 }' "$dir/metrics.csv" 2>/dev/null || true)
        echo "$name $transport overlap=$overlap round $r ($(cut -d, -f1 <<<"$(uptime | sed 's/.*load average: //')") load): epoch 2 ${seconds:-failed (see below)}, ${ips:-?} img/s"
        [ -n "$ips" ] || tail -20 "$dir.log"
        grep -h "allreduce buckets" "$dir.log" | tail -1 | sed 's/^/  /' || true
      done
    done
  done
done
