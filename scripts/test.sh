#!/usr/bin/env bash
# Runs every Tessera test on SQLite and PostgreSQL.
# PostgreSQL comes from TESSERA_TEST_PG when set; otherwise a private server is installed from Debian's
# packages (when missing) and started for the run on a loopback port, then stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

if ! command -v dotnet >/dev/null 2>&1; then
  echo "The .NET 10 SDK is needed: install it (Debian package dotnet-sdk-10.0 or from Microsoft), then run scripts/test.sh again." >&2
  exit 2
fi

PG_DIR=""
cleanup() {
  if [ -n "$PG_DIR" ] && [ -f "$PG_DIR/data/postmaster.pid" ]; then
    run_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast stop >/dev/null 2>&1 || true
  fi
  [ -n "$PG_DIR" ] && rm -rf "$PG_DIR"
}
trap cleanup EXIT

run_pg() {
  if [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

if [ -z "${TESSERA_TEST_PG:-}" ]; then
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ]; then
    if [ "$(id -u)" != "0" ]; then
      echo "PostgreSQL is not installed: run 'sudo apt-get install -y postgresql', or set TESSERA_TEST_PG to a server's connection string." >&2
      exit 2
    fi
    echo "Installing PostgreSQL from Debian's packages..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq postgresql >/dev/null
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  fi
  PG_DIR=$(mktemp -d /tmp/tessera-pg.XXXXXX)
  PG_PORT=${TESSERA_TEST_PG_PORT:-55432}
  if [ "$(id -u)" = "0" ]; then chown postgres "$PG_DIR"; PG_USER=postgres; else PG_USER=$(id -un); fi
  run_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -U "$PG_USER" --auth=trust -E UTF8 --locale=C >/dev/null
  run_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w \
    -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" start >/dev/null
  export TESSERA_TEST_PG="Host=127.0.0.1;Port=$PG_PORT;Username=$PG_USER;Database=postgres"
  echo "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') started for the tests on 127.0.0.1:$PG_PORT"
fi

RESULTS="$ROOT/artifacts/test-results"
rm -rf "$RESULTS"
set +e
dotnet test "$ROOT/Tessera.slnx" -c Release --logger "trx" --results-directory "$RESULTS" -- RunConfiguration.TreatNoTestsAsError=false
status=$?
set -e

passed=0; failed=0; skipped=0
for trx in "$RESULTS"/*.trx; do
  [ -f "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  p=$(echo "$counters" | sed -n 's/.* passed="\([0-9]*\)".*/\1/p'); passed=$((passed + ${p:-0}))
  f=$(echo "$counters" | sed -n 's/.* failed="\([0-9]*\)".*/\1/p'); failed=$((failed + ${f:-0}))
  n=$(echo "$counters" | sed -n 's/.* notExecuted="\([0-9]*\)".*/\1/p'); skipped=$((skipped + ${n:-0}))
done
echo
echo "Tests: $passed passed, $failed failed, $skipped skipped"
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  echo "dotnet test failed before or after running tests (exit $status): see the build output above." >&2
fi
exit $status
