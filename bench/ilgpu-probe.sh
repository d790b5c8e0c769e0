#!/usr/bin/env bash
# The ILGPU evaluation of docs/design.md, reproduced without a GPU: bench/ilgpu-probe writes the PTX ILGPU 1.5.3 makes (O1, O2)
# and runs its CPU and OpenCL parts; ptxas 11.8 (bench/cuda-tools.sh) then assembles the PTX for sm_90 and cuobjdump counts
# local-memory instructions (STL, LDL) and tensor-core products (HMMA) in the machine code.
#   usage: bench/ilgpu-probe.sh [OUT]      (default /tmp/ilgpu-probe)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/ilgpu-probe}
mkdir -p "$out"
tools=$(bench/cuda-tools.sh)
echo "date: $(date -u +%F), $(nproc) cores; $("$tools/ptxas" --version | tail -n 1)"
dotnet run -c Release --project bench/ilgpu-probe -- "$out"
for ptx in "$out"/*.ptx; do
  cubin=${ptx%.ptx}.cubin
  info=$("$tools/ptxas" -arch=sm_90 -v "$ptx" -o "$cubin" 2>&1 | grep -E "stack frame|Used" | sed 's/ptxas info *: //; s/^ *//' | tr '\n' ' ')
  sass=$("$tools/cuobjdump" -sass "$cubin")
  echo "sm_90 $(basename "$ptx"): $info| STL $(grep -cw STL <<<"$sass"), LDL $(grep -cw LDL <<<"$sass"), HMMA $(grep -c HMMA <<<"$sass")"
done
# Order of the shared-memory stores, barriers and loads in the tiled GEMM at each level: a load of the tile must follow
# the barrier after its stores.
for level in O1 O2; do
  echo "TiledGemm $level, shared memory and barriers in PTX order: $(grep -oE 'st\.shared|bar\.sync|ld\.shared' "$out/TiledGemm-$level.ptx" | tr '\n' ' ')"
done
