#!/usr/bin/env bash
# Packs what bench/gpu-first-contact.sh needs on a GPU machine without .NET into .gpu/ (git-ignored), within the 64 MiB
# that travel: ../shared/gpu/pack.sh's .NET runtime and build of the dsl command, less the native libraries of other
# platforms (SkiaSharp and HarfBuzz for Windows, macOS, ARM and musl: 450 MB of the build's 480). Carry .gpu.
#   usage: bench/gpu-pack.sh          (PACK=path/to/pack.sh where ../shared/gpu/pack.sh is elsewhere)
set -euo pipefail
cd "$(dirname "$0")/.."
bash "${PACK:-../shared/gpu/pack.sh}" Cli/Cli.fsproj >/dev/null
find .gpu/Cli/runtimes -mindepth 1 -maxdepth 1 ! -name linux-x64 -exec rm -rf {} +
total=$(du -sm .gpu | cut -f1)
echo "packed: .gpu is ${total} MiB (runtime $(du -sm .gpu/dotnet.tar.gz | cut -f1), dsl $(du -sm .gpu/Cli | cut -f1)); with the checkout it must stay under 64"
[ "$total" -lt 60 ] || { echo "too large to travel with the checkout" >&2; exit 1; }
