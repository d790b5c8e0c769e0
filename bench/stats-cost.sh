#!/usr/bin/env bash
# What the diagnosis statistics (stats.csv) cost: lenet's training throughput with them and without, alternating rounds.
# Statistics are read once an epoch, so the fewer steps an epoch has, the larger their share: the shipped 1,800-image
# subset (28 steps of 64) is the pessimistic case; a full Fashion-MNIST epoch has 844 steps.
#   usage: bench/stats-cost.sh [MODEL] [LIMIT] [EPOCHS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
export DSL_DATA=${DSL_DATA:-$PWD/tests/data}
work=$(mktemp -d)
dotnet build bench/StatsCost -c Release -o "$work/bin" -nologo -v q >/dev/null
echo "$(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(date -u +%F)"
dotnet "$work/bin/StatsCost.dll" "${1:-Models/lenet.model}" --limit "${2:-1800}" --epochs "${3:-2}" --rounds "${4:-2}"
rm -rf "$work"
