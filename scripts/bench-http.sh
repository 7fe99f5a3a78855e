#!/usr/bin/env bash
# HTTP load: builds the release `latchkey` binary, then runs apps/server/benches/http_load.rs, which starts it on a
# free port and a temporary data directory, sets up through the public API (a Management API token, seeded users,
# the account center, an SPA app and a signed-in user), and measures GET /api/status, GET and PATCH /api/my-account,
# a page of GET /api/users, an email-prefix search, GET /api/users/:id, client_credentials grants, password
# sign-ins, GET /api/my-account during a sign-in flood and in-process token verification with closed-loop workers on
# keep-alive clients. Prints requests/s, p50/p99/max, errors, each row's share of /api/status and the server's RSS,
# then idle/peak RSS and the sign-in and flood targets (figures in docs/benchmarks.md).
# The server is stopped whatever happens.
#
#   scripts/bench-http.sh
#
# Environment: LATCHKEY_BENCH_BINARY (target/release/latchkey, built here; another path is used as it is, relative to
# the repository root), LATCHKEY_BENCH_DATABASE_URL (unset: the embedded SQLite file; else passed to the server as
# LATCHKEY_DATABASE_URL, e.g. a database kept by `LATCHKEY_BENCH_KEEP=1 scripts/bench-users-million.sh`),
# LATCHKEY_BENCH_HTTP_USERS (10000: users seeded through POST /api/users when the database has none),
# LATCHKEY_BENCH_SECONDS (10: measured seconds per request kind, after 2 s of warm-up), LATCHKEY_BENCH_CONCURRENCY
# (16: workers; also bounds the seeding), LATCHKEY_LOG (warn: the server's log filter), LATCHKEY_BENCH_SERVER_<KEY>
# (passed to the server as LATCHKEY_<KEY>, e.g. LATCHKEY_BENCH_SERVER_PASSWORD_HASH_NICENESS=0).
set -euo pipefail

cd "$(dirname "$0")/.."
if [[ -z "${LATCHKEY_BENCH_BINARY:-}" ]]; then
    cargo build --release -p latchkey-server --bin latchkey
fi

# The bench profile is the release profile (optimised, thin LTO).
exec cargo bench -p latchkey-server --bench http_load
