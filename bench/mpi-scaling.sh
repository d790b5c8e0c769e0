#!/usr/bin/env bash
# Data-parallel training against threads on the same cores: `mpirun -np 2 dsl run --threads 1` against
# `dsl run --threads 2`, interleaved ROUNDS times so that both see the same machine, for lenet and AlexNet on the test
# subset of Fashion-MNIST. Prints each run's training throughput (the last epoch's img/s: steps only, no validation)
# and the allreduce line of the 2-process runs. Usage: bench/mpi-scaling.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-2}
export DSL_DATA=$PWD/tests/data XDG_CACHE_HOME=$(mktemp -d) DSL_DATA_MIRROR=http://127.0.0.1:9/
./dsl --version >/dev/null
dll=$PWD/.build/dsl/dsl.dll
out=$(mktemp -d)
trap 'rm -rf "$out" "$XDG_CACHE_HOME"' EXIT
# model | arguments: lenet's epoch 2 is warm; AlexNet (batch 128, 8 steps) pays its warm-up in both configurations.
cases=("lenet|Models/lenet.model --epochs 2 --limit 1792 --batch 64"
       "alexnet|Models/alexnet.model --epochs 1 --limit 1024 --batch 128")
for c in "${cases[@]}"; do
  IFS='|' read -r name args <<<"$c"
  for r in $(seq "$rounds"); do
    for config in "1x2" "2x1"; do
      dir="$out/$name-$config-$r"
      if [ "$config" = 1x2 ]; then dotnet "$dll" run $args --device cpu --threads 2 --out "$dir" >"$dir.log" 2>&1
      else mpirun --allow-run-as-root --oversubscribe -np 2 dotnet "$dll" run $args --device cpu --threads 1 --out "$dir" >"$dir.log" 2>&1
      fi
      ips=$(grep -oE '[0-9]+ img/s$' "$dir.log" | tail -1)
      echo "$name $config round $r: ${ips:-failed (see below)}"
      [ -n "$ips" ] || tail -20 "$dir.log"
      grep -h "allreduce" "$dir.log" | tail -1 || true
    done
  done
done
