#!/usr/bin/env bash
# Training and inference throughput of the OpenCL device beside dsl's CPU device on the same machine, in one run:
# lenet at batch 64 and AlexNet at batch 32. With PoCL (OpenCL on the CPU) both use the same cores, so the ratio
# measures the generated kernels against the hand-tuned CPU ones.
#   usage: bench/opencl.sh [STEPS] [OPENCL_DEVICE]   (OPENCL_DEVICE: opencl or opencl:N, see ./dsl devices)
#   DSL="dotnet path/to/dsl.dll" bench/opencl.sh times another build than the checkout's.
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-3}
ocl=${2:-opencl}
dsl=${DSL:-./dsl}
$dsl devices | grep -q '\[opencl:' || { echo "no OpenCL device: apt-get install ocl-icd-libopencl1 pocl-opencl-icd" >&2; exit 1; }
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB; $(date -u +%F)"
for spec in "lenet 64" "alexnet 32"; do
  set -- $spec
  echo; echo "== $1, batch $2 =="
  declare -A train=()
  for device in cpu "$ocl"; do
    out=$($dsl bench "Models/$1.model" --batch "$2" --steps "$steps" --warmup 1 --device "$device" 2>/dev/null)
    echo "$out" | sed -n '1,5p'
    train[$device]=$(echo "$out" | awk '$1=="training:" {print $2}')
    [ "$device" = cpu ] || { echo "slowest kernels on $device:"; echo "$out" | sed -n '/per kernel/,$p' | sed -n '2,6p'; }
  done
  echo "training ratio $ocl/cpu: $(awk -v a="${train[$ocl]}" -v b="${train[cpu]}" 'BEGIN {printf "%.2f", a/b}')"
done
