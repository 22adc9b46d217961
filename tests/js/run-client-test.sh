#!/usr/bin/env bash
# The official `meilisearch` JavaScript client against a real foliod (CTest:
# js_client). Usage: run-client-test.sh FOLIOD WORKDIR
#
# Skips (exit 77, CTest's SKIP_RETURN_CODE) with a message when Node.js or npm
# is missing or Node.js is older than the client needs (>= 20.19). Otherwise:
# copies package.json, package-lock.json and the test into WORKDIR, runs
# `npm ci` there (again only when the lock changed), starts foliod on a fresh
# data directory, a free loopback port and a master key, runs the test with
# node's test runner, then stops foliod with SIGTERM and checks it exits 0
# (under the sanitizers that also means no leak). foliod is stopped by its pid
# on every way out (SIGKILL if SIGTERM does not end it within 30 s).
set -uo pipefail

if [ $# -ne 2 ]; then
    echo "usage: $0 FOLIOD WORKDIR" >&2
    exit 2
fi
foliod=$1
work=$2
here=$(cd "$(dirname "$0")" && pwd)

skip() {
    echo "SKIP: $*"
    exit 77
}
command -v node >/dev/null 2>&1 ||
    skip "node is not installed; the meilisearch JavaScript client test needs Node.js >= 20.19 and npm"
command -v npm >/dev/null 2>&1 ||
    skip "npm is not installed; the meilisearch JavaScript client test needs it to install the client"
node -e 'const [a, b] = process.versions.node.split(".").map(Number);
         process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' ||
    skip "Node.js $(node --version) is older than the meilisearch client needs (>= 20.19)"

mkdir -p "$work" || exit 1
cp "$here/package.json" "$here/package-lock.json" "$here/client.test.mjs" "$work/" || exit 1
stamp="$work/node_modules/.folio-package-lock.json"
if ! cmp -s "$here/package-lock.json" "$stamp"; then
    echo "npm ci in $work"
    if ! (cd "$work" && npm ci --no-audit --no-fund --loglevel=error); then
        echo "FAIL: npm ci could not install the meilisearch client (is the npm registry reachable?)"
        exit 1
    fi
    cp "$here/package-lock.json" "$stamp"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/folio-js.XXXXXX") || exit 1
pid=""

# Stops foliod by pid: SIGTERM, up to 30 s, then SIGKILL. Sets foliod_status.
foliod_status=""
stop_foliod() {
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 300); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "foliod (pid $pid) did not stop on SIGTERM: killed"
        kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    foliod_status=$?
    pid=""
}
cleanup() {
    stop_foliod
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

key="folio-js-test-key"
"$foliod" --db-path "$tmp/db" --snapshot-dir "$tmp/snapshots" --http-addr 127.0.0.1:0 \
    --master-key "$key" --log-level info >"$tmp/stdout" 2>"$tmp/foliod.log" &
pid=$!

port=""
for _ in $(seq 600); do
    port=$(sed -n 's|^foliod: listening on http://127\.0\.0\.1:\([0-9][0-9]*\)$|\1|p' "$tmp/stdout")
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$port" ]; then
    echo "FAIL: foliod did not start"
    cat "$tmp/foliod.log"
    exit 1
fi
echo "foliod (pid $pid) on 127.0.0.1:$port"

# Bounded well inside CTest's timeout, so this script always gets to stop foliod.
FOLIO_URL="http://127.0.0.1:$port" FOLIO_KEY="$key" \
    timeout --kill-after=10 300 node --test --test-reporter=spec "$work/client.test.mjs"
rc=$?
[ $rc -eq 124 ] && echo "FAIL: the client test did not finish within 300 s"

stop_foliod
if [ "$foliod_status" != "0" ]; then
    echo "FAIL: foliod exited with status $foliod_status after SIGTERM"
    tail -n 60 "$tmp/foliod.log"
    exit 1
fi
if [ $rc -ne 0 ]; then
    echo "--- end of the foliod log"
    tail -n 60 "$tmp/foliod.log"
fi
exit $rc
