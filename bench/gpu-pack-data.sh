#!/usr/bin/env bash
# Puts Fashion-MNIST into .gpu/data/fashion-mnist for a GPU machine that lacks Debian's dataset-fashion-mnist:
# bench/gpu-first-contact.sh points DSL_DATA at it. The whole test set, and the first TRAIN (default 20000) training
# images: with the packed .NET runtime (34 MB) and build (7 MB), all of it (30 MB) would pass the 64 MiB that travels.
#   usage: bench/gpu-pack-data.sh [TRAIN]      (after ../shared/gpu/pack.sh Cli/Cli.fsproj; carry .gpu)
set -euo pipefail
cd "$(dirname "$0")/.."
src=${DSL_DATA:-/usr/share/datasets/fashion-mnist}
[ -f "$src/train-images-idx3-ubyte.gz" ] || { echo "no Fashion-MNIST in $src: apt-get install dataset-fashion-mnist, or set DSL_DATA" >&2; exit 1; }
dst=.gpu/data/fashion-mnist
mkdir -p "$dst"
cp "$src"/t10k-*-ubyte.gz "$dst/"
# An IDX file is a 4-byte magic, one big-endian 4-byte size per dimension, then the items: keep the first N along the first.
python3 - "$src" "$dst" "${1:-20000}" <<'PY'
import gzip, struct, sys
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
    data = gzip.open(f"{src}/{name}").read()
    dims = data[3]
    sizes = struct.unpack(f">{dims}I", data[4:4 + 4 * dims])
    keep = min(n, sizes[0])
    item = 1
    for s in sizes[1:]:
        item *= s
    head = data[:4] + struct.pack(f">{dims}I", keep, *sizes[1:])
    with gzip.open(f"{dst}/{name}", "wb", compresslevel=9) as f:
        f.write(head + data[4 + 4 * dims:4 + 4 * dims + keep * item])
    print(f"{name}: {keep} of {sizes[0]}")
PY
du -sh .gpu "$dst" | sed 's/^/packed: /'
