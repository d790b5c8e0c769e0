#!/usr/bin/env bash
# The sample-order experiment: lenet on Fashion-MNIST, the same epochs and images for each order, three seeds each;
# prints test accuracy and loss per run and the mean per order (the table in docs/experiments/sample-order.md).
#   usage: bench/sample-order.sh [LIMIT] [EPOCHS]
set -euo pipefail
cd "$(dirname "$0")/.."
limit=${1:-12000}; epochs=${2:-2}
work=$(mktemp -d)
dsl=${DSL:-./dsl}   # another build of dsl, e.g. "dotnet /path/dsl.dll"
echo "lenet, $limit training images, $epochs epochs, batch 64; $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(date -u +%F)"
printf '%-14s %5s %9s %9s\n' order seed accuracy loss
for order in shuffle by-class by-similarity hybrid; do
  sed "s/^  seed       1$/  seed       1\n  order      $order/" Models/lenet.model > "$work/lenet-$order.model"
  for seed in 1 2 3; do
    # A run whose loss becomes NaN stops with exit 1: that is a result too.
    out=$($dsl run "$work/lenet-$order.model" --epochs "$epochs" --limit "$limit" --seed "$seed" --out "$work/$order-$seed" 2>&1) || true
    if line=$(echo "$out" | grep '^test:'); then
      acc=$(echo "$line" | awk '{print $5}'); loss=$(echo "$line" | awk '{print $3}')
      echo "$order $acc $loss" >> "$work/all"
    else
      acc=diverged; loss=$(echo "$out" | grep -o 'at epoch [0-9]*, step [0-9]*' || echo failed)
      echo "$order diverged" >> "$work/all"
    fi
    printf '%-14s %5s %9s %9s\n' "$order" "$seed" "$acc" "$loss"
  done
done
echo
printf '%-14s %14s %10s %9s\n' order "mean accuracy" "mean loss" diverged
awk '$2 == "diverged" {d[$1]++; seen[$1]=1; next} {gsub("%","",$2); a[$1]+=$2; l[$1]+=$3; n[$1]++; seen[$1]=1}
     END {for (o in seen) if (n[o]) printf "%-14s %13.2f%% %10.4f %9d\n", o, a[o]/n[o], l[o]/n[o], d[o]; else printf "%-14s %14s %10s %9d\n", o, "-", "-", d[o]}' "$work/all" | sort -k2 -r
