#!/usr/bin/env bash
# Runs a Node end-to-end suite against the real server: builds the `latchkey` binary, starts it on a fresh data
# directory and a free port with a bootstrap M2M app whose credentials this script chooses, waits for /api/status,
# runs the suite's `node --test` (after `npm ci` from its committed lockfile), and stops the server whatever happens.
#   scripts/node-e2e.sh [SUITE_DIR]   default tests/node-logto-api (Logto's own client, `@logto/api`);
#                                     tests/account-page is the /account page in headless Chromium.
# LATCHKEY_E2E_PROFILE=release builds and runs the release binary (default: debug).
set -euo pipefail
cd "$(dirname "$0")/.."
suite="${1:-tests/node-logto-api}"
[[ -f "$suite/package.json" ]] || { echo "$suite is not a Node test suite (no package.json)" >&2; exit 2; }

# LATCHKEY_E2E_BINARY=path runs that binary as it is: CI passes the one `cargo test --workspace` just built, since a
# `cargo build -p latchkey-server` resolves features differently and would rebuild much of the dependency tree.
if [[ -n "${LATCHKEY_E2E_BINARY:-}" ]]; then
    binary="$LATCHKEY_E2E_BINARY"
    [[ -x "$binary" ]] || { echo "LATCHKEY_E2E_BINARY=$binary is not an executable" >&2; exit 2; }
else
    profile="${LATCHKEY_E2E_PROFILE:-debug}"
    case "$profile" in
        release) cargo build --release -p latchkey-server --bin latchkey; binary=target/release/latchkey ;;
        debug) cargo build -p latchkey-server --bin latchkey; binary=target/debug/latchkey ;;
        *) echo "LATCHKEY_E2E_PROFILE must be debug or release, not '$profile'" >&2; exit 2 ;;
    esac
fi

work_dir="$(mktemp -d)"
server_pid=""
stop_server() {
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid"
        wait "$server_pid" || true
    fi
    rm -rf "$work_dir"
}
trap stop_server EXIT

# A port the kernel just handed out and released; the server binds it right away.
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
# The server listens on loopback. LATCHKEY_E2E_HOST=localhost makes `localhost` its public endpoint, which the
# browser suite needs: a WebAuthn relying party (passkeys) must be a domain, never an IP address. Node calls the API
# on the address itself (LATCHKEY_E2E_API_URL).
base_url="http://${LATCHKEY_E2E_HOST:-127.0.0.1}:${port}"
api_url="http://127.0.0.1:${port}"
client_id="node-e2e-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
client_secret="$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"

LATCHKEY_BIND="127.0.0.1:${port}" \
LATCHKEY_ENDPOINT="$base_url" \
LATCHKEY_DATA_DIR="$work_dir/data" \
LATCHKEY_BOOTSTRAP_CLIENT_ID="$client_id" \
LATCHKEY_BOOTSTRAP_CLIENT_SECRET="$client_secret" \
LATCHKEY_LOG="${LATCHKEY_LOG:-warn}" \
    "$binary" serve >"$work_dir/server.log" 2>&1 &
server_pid=$!

ready=""
for _ in $(seq 1 150); do
    if curl -fsS -o /dev/null "$api_url/api/status"; then
        ready=yes
        break
    fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
        break
    fi
    sleep 0.2
done
if [[ -z "$ready" ]]; then
    echo "latchkey did not answer on $api_url/api/status; its log:" >&2
    cat "$work_dir/server.log" >&2
    exit 1
fi

cd "$suite"
npm ci --no-audit --no-fund
status=0
LATCHKEY_E2E_BASE_URL="$base_url" \
LATCHKEY_E2E_API_URL="$api_url" \
LATCHKEY_E2E_CLIENT_ID="$client_id" \
LATCHKEY_E2E_CLIENT_SECRET="$client_secret" \
    node --test --test-concurrency=1 || status=$?
if [[ "$status" -ne 0 ]]; then
    echo "the Node end-to-end test failed; the server's log:" >&2
    cat "$work_dir/server.log" >&2
fi
exit "$status"
