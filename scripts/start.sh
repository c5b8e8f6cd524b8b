#!/usr/bin/env bash
# Starts Tessera on its embedded default: a SQLite file under data/, FHIR API at http://localhost:8080/fhir.
# Extra arguments go to `tessera serve` (for example --urls http://0.0.0.0:8080 or --db postgres://...).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v dotnet >/dev/null 2>&1; then
  echo "The .NET 10 SDK is needed: install it (Debian package dotnet-sdk-10.0 or from Microsoft), then run scripts/start.sh again." >&2
  exit 2
fi
dotnet build src/Tessera.Cli -c Release -v quiet -nologo
exec dotnet src/Tessera.Cli/bin/Release/net10.0/tessera.dll serve "$@"
