#!/usr/bin/env bash
# The `dsl` command from a checkout: publishes the CLI (Release, ReadyToRun, so start-up skips most JIT work)
# into .build/dsl when its sources changed, then runs it.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out="$here/.build/dsl"
dll="$out/dsl.dll"
mkdir -p "$here/.build"
# One build at a time: several `./dsl` started together (scripts, tests) wait for the first one's build.
exec 9>"$here/.build/lock"
flock 9
if [ ! -f "$dll" ] || [ -n "$(find "$here/Cli" "$here/Dsl.Core" "$here/Dsl.Compiler" "$here/Dsl.Runtime" \
        \( -name '*.fs' -o -name '*.cs' -o -name '*.fsproj' -o -name '*.csproj' \) -newer "$dll" -not -path '*/obj/*' -not -path '*/bin/*' -print -quit)" ]; then
  echo "building dsl (Release)..." >&2
  log=$(mktemp)
  dotnet publish "$here/Cli/Cli.fsproj" -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true -o "$out" -nologo >"$log" 2>&1 \
    || { cat "$log" >&2; rm -f "$log"; exit 1; }
  rm -f "$log"
  touch "$dll"
fi
flock -u 9
exec 9>&-
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
exec dotnet "$dll" "$@"
