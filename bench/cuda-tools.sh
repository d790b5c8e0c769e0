#!/usr/bin/env bash
# Prints a folder holding ptxas, cuobjdump and nvdisasm 11.8, taken from Debian's nvidia-cuda-toolkit .deb (non-free) without
# installing it: downloaded once with apt-get download and unpacked with dpkg-deb -x under $XDG_CACHE_HOME/dsl (else
# ~/.cache/dsl). dsl itself needs none of them (NVRTC runs ptxas inside); bench/ilgpu-probe.sh reads ILGPU's PTX with them.
set -euo pipefail
cache=${XDG_CACHE_HOME:-$HOME/.cache}/dsl/cuda-toolkit
if [ ! -x "$cache/usr/bin/ptxas" ]; then
  mkdir -p "$cache/deb"
  (cd "$cache/deb" && apt-get download nvidia-cuda-toolkit >/dev/null 2>&1) || {
    echo "could not download nvidia-cuda-toolkit: it is in Debian's non-free component (see .ci/install-test-deps); run apt-get update" >&2; exit 1; }
  dpkg-deb -x "$cache"/deb/nvidia-cuda-toolkit_*.deb "$cache"
  rm -rf "$cache/deb"
fi
echo "$cache/usr/bin"
