#!/usr/bin/env bash
# The `dsl` command from a checkout: builds the CLI in Release when its sources changed, then runs it.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dll="$here/Cli/bin/Release/net10.0/dsl.dll"
if [ ! -f "$dll" ] || [ -n "$(find "$here/Cli" "$here/Dsl.Core" "$here/Dsl.Compiler" "$here/Dsl.Runtime" \
        \( -name '*.fs' -o -name '*.cs' -o -name '*.fsproj' -o -name '*.csproj' \) -newer "$dll" -not -path '*/obj/*' -print -quit)" ]; then
  echo "building dsl (Release)..." >&2
  log=$(mktemp)
  dotnet build "$here/Cli/Cli.fsproj" -c Release -nologo >"$log" 2>&1 || { cat "$log" >&2; rm -f "$log"; exit 1; }
  rm -f "$log"
fi
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_TieredPGO=1
exec dotnet "$dll" "$@"
