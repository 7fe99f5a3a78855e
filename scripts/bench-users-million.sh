#!/usr/bin/env bash
# Users at scale: seeds 1,000,000 users into a scratch database on the local PostgreSQL through the store's bulk
# path, then prints p50/p99/max of listing, email-prefix search, exact-email search and look-up by id
# (crates/store/benches/users_million.rs; figures in docs/benchmarks.md). Takes several minutes.
#
#   scripts/bench-users-million.sh
#
# Environment: LATCHKEY_BENCH_DATABASE_URL (postgres://postgres@127.0.0.1:5432/postgres: the server; the program
# creates and drops a database of its own), LATCHKEY_BENCH_USERS (1000000), LATCHKEY_BENCH_SAMPLES (1000),
# LATCHKEY_BENCH_KEEP=1 (keep the database), LATCHKEY_BENCH_REUSE=<database> (measure a kept database again).
set -euo pipefail

cd "$(dirname "$0")/.."
export LATCHKEY_BENCH_DATABASE_URL=${LATCHKEY_BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}

# The bench profile is the release profile (optimised, thin LTO).
exec cargo bench -p latchkey-store --bench users_million
