#!/usr/bin/env bash
# Load test of `POST /oidc/token` with the client_credentials grant (client_secret_basic, resource `<endpoint>/api`,
# scope `all`) against the release binary: starts `target/release/latchkey` on a throwaway data directory with a
# bootstrap M2M app, runs wrk, prints grants/s and latency, and stops the server.
#
#   cargo build --release -p latchkey-server && scripts/bench-client-credentials.sh
#
# Environment: DURATION (30s), CONNECTIONS (4), THREADS (1), PORT (free port from the kernel), BIN
# (target/release/latchkey), DATABASE_URL (unset: the embedded SQLite file). wrk: `apt-get install -y wrk`.
set -euo pipefail

cd "$(dirname "$0")/.."
DURATION=${DURATION:-30s}
CONNECTIONS=${CONNECTIONS:-4}
THREADS=${THREADS:-1}
BIN=${BIN:-target/release/latchkey}
PORT=${PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
[ -x "$BIN" ] || { echo "$BIN is missing: cargo build --release -p latchkey-server" >&2; exit 1; }

workdir=$(mktemp -d)
server_pid=""
cleanup() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid"
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$workdir"
}
trap cleanup EXIT

endpoint="http://127.0.0.1:$PORT"
client_id="bench-m2m-client"
client_secret="$(head -c 32 /dev/urandom | base64 | tr -d '/+=' | head -c 40)"

LATCHKEY_BIND="127.0.0.1:$PORT" \
LATCHKEY_ENDPOINT="$endpoint" \
LATCHKEY_DATA_DIR="$workdir/data" \
LATCHKEY_LOG="${LATCHKEY_LOG:-warn}" \
LATCHKEY_BOOTSTRAP_CLIENT_ID="$client_id" \
LATCHKEY_BOOTSTRAP_CLIENT_SECRET="$client_secret" \
    "$BIN" serve >"$workdir/server.log" 2>&1 &
server_pid=$!

for _ in $(seq 1 100); do
    curl -fsS -o /dev/null "$endpoint/api/status" 2>/dev/null && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$workdir/server.log" >&2; exit 1; }
    sleep 0.1
done

basic="$(printf '%s:%s' "$client_id" "$client_secret" | base64 -w0)"
body="grant_type=client_credentials&resource=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$endpoint/api")&scope=all"

# One request by hand first: a failing grant would otherwise be measured as a fast 401.
status=$(curl -sS -o "$workdir/first.json" -w '%{http_code}' -X POST "$endpoint/oidc/token" \
    -H "Authorization: Basic $basic" -H 'Content-Type: application/x-www-form-urlencoded' --data "$body")
if [ "$status" != 200 ]; then
    echo "the first grant answered $status: $(cat "$workdir/first.json")" >&2
    exit 1
fi

cat >"$workdir/grant.lua" <<LUA
wrk.method = "POST"
wrk.body = "$body"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $basic"

local failures = 0
response = function(status, headers, body)
    if status ~= 200 then failures = failures + 1 end
end

done = function(summary, latency, requests)
    local seconds = summary.duration / 1e6
    io.write(string.format("grants/s: %.0f (%d requests in %.1f s, %d non-2xx, %d socket errors)\n",
        summary.requests / seconds, summary.requests, seconds, summary.errors.status,
        summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
    io.write(string.format("latency: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n",
        latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
        latency.max / 1000))
end
LUA

echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION against $endpoint/oidc/token ($(nproc) CPUs, $(uname -m))"
wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$workdir/grant.lua" "$endpoint/oidc/token"
