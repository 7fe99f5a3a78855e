#!/usr/bin/env bash
# Where the machine's time goes during the password sign-in row of scripts/bench-http.sh: runs the HTTP load bench,
# samples every CPU with `perf record -a` (perf's cpu-clock, no call graphs) for SECONDS of that row's measured
# window, then prints the machine's context switches and interrupts per second over that window and three tables
# from the samples:
#   1. the share of all samples by thread name (idle included, as `swapper`): the hashing threads
#      against the actix workers, the SQLite workers, the load generator and anything else on the machine;
#   2. inside the hashing threads, the share by function: argon2's own work against the kernel and libc;
#   3. the hottest functions outside the hashing threads.
# The bench's own output (the sign-in rate and the one-verification time its target uses) is printed first. The
# figures are quoted in docs/benchmarks.md. Linux only; needs perf (Debian: linux-perf) and the right to sample every
# CPU (root, or kernel.perf_event_paranoid <= 0). Keep the machine otherwise quiet: every process is sampled.
#
#   scripts/profile-sign-in.sh [SECONDS]
#
# Environment: as scripts/bench-http.sh (LATCHKEY_BENCH_BINARY, LATCHKEY_BENCH_SECONDS, ...); PROFILE_OUTPUT (a
# temporary directory): where perf.data and the bench's output are kept.
set -euo pipefail

cd "$(dirname "$0")/.."
seconds=${1:-8}
bench_seconds=${LATCHKEY_BENCH_SECONDS:-10}
if ((seconds > bench_seconds)); then
    echo "SECONDS ($seconds) must not exceed LATCHKEY_BENCH_SECONDS ($bench_seconds)" >&2
    exit 2
fi
command -v perf >/dev/null || { echo "perf not found (Debian: apt-get install linux-perf)" >&2; exit 2; }
output=${PROFILE_OUTPUT:-$(mktemp -d)}
mkdir -p "$output"

if [[ -z "${LATCHKEY_BENCH_BINARY:-}" ]]; then
    cargo build --release -p latchkey-server --bin latchkey
fi
cargo bench -p latchkey-server --bench http_load --no-run

# The bench prints each row's line when that row is done; the sign-in row follows client_credentials, after one
# verification is timed (16 runs, well under 0.5 s) and 2 s of warm-up (WARM_UP in apps/server/benches/http_load.rs).
cargo bench -p latchkey-server --bench http_load >"$output/bench.txt" 2>&1 &
bench=$!
trap 'kill "$bench" 2>/dev/null || true' EXIT
until grep -q 'client_credentials' "$output/bench.txt"; do
    kill -0 "$bench" 2>/dev/null || { cat "$output/bench.txt" >&2; exit 1; }
    sleep 0.2
done
sleep 2.5
read -r _ switches_before < <(grep '^ctxt ' /proc/stat)
read -r _ interrupts_before _ < <(grep '^intr ' /proc/stat)
perf record -a -F 499 -o "$output/perf.data" -- sleep "$seconds" 2>"$output/perf-record.txt"
read -r _ switches_after < <(grep '^ctxt ' /proc/stat)
read -r _ interrupts_after _ < <(grep '^intr ' /proc/stat)
wait "$bench"
trap - EXIT
grep -E 'argon2id verify|POST /api/sign-in|sign-in flood' "$output/bench.txt"
echo
echo "context switches: $(((switches_after - switches_before) / seconds))/s; interrupts:" \
    "$(((interrupts_after - interrupts_before) / seconds))/s (all CPUs, over the sampled window)"

# One line per sample: thread name, then function (perf's own report mixes threads when filtering by several).
perf script -i "$output/perf.data" -F comm,ip,sym 2>/dev/null |
    sed -E 's/^ *([^ ].{0,14}[^ ]) +[0-9a-f]+ +/\1|/; s/\|$/|[unknown]/' >"$output/samples.txt"
total=$(wc -l <"$output/samples.txt")

# Reads one label per line and prints each label's share of all samples, largest first, down to 0.2 % and at most
# LIMIT lines (all when not given).
shares() {
    sort | uniq -c | sort -rn | awk -v total="$total" -v limit="${1:-0}" '{
        count = $1; $1 = ""; share = 100 * count / total
        if (share >= 0.2 && (limit == 0 || shown++ < limit)) printf "%7.2f %%  %s\n", share, substr($0, 2)
    }'
}

echo
echo "## Share of all $total samples, by thread name ($seconds s of the sign-in row, $(nproc) cores; swapper is idle)"
cut -d'|' -f1 "$output/samples.txt" | shares
echo
echo "## Inside the hashing threads, by function (shares of all samples)"
{ grep '^latchkey-hash' "$output/samples.txt" || true; } | cut -d'|' -f2 | shares
echo
echo "## Outside the hashing threads and idle, by thread and function (shares of all samples)"
{ grep -v -e '^latchkey-hash' -e '^swapper' "$output/samples.txt" || true; } | sed 's/|/: /' | shares 25
echo
echo "perf data, the samples and the bench's output: $output"
