#!/usr/bin/env bash
# Runs the cargo-fuzz targets of fuzz/ (token verification, imported password digests, the user search query,
# identifiers) with libFuzzer.
#
#   scripts/fuzz.sh short [SECONDS]          every target for SECONDS (15) each: the CI smoke run
#   scripts/fuzz.sh long [RUNS] [TARGET...]  every target (or those named) for RUNS executions (10,000,000) each
#
# Each target starts from its committed seeds (fuzz/seeds/<target>/, copied into the working corpus
# fuzz/corpus/<target>/, which is not committed) and prints libFuzzer's final statistics; a summary table follows.
# A crash stops the script with libFuzzer's exit status; the input is kept in fuzz/artifacts/<target>/ (reproduce it
# with `RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer none <target> <file>`). Each target's full output is also in
# $FUZZ_LOG_DIR/fuzz-<mode>-<target>.log (FUZZ_LOG_DIR: $TMPDIR or /tmp).
#
# cargo-fuzz needs nightly compiler flags; RUSTC_BOOTSTRAP=1 lets the stable toolchain accept them. cargo-fuzz is
# installed (`cargo install cargo-fuzz --locked`) when missing.
#
# Environment: FUZZ_SANITIZER (`none`: Latchkey's crates forbid unsafe code, so AddressSanitizer would only watch
# the dependencies, at half the speed; `address` to have it anyway), FUZZ_DEV (1: build without optimisations, which
# compiles several times faster and fuzzes several times slower; what CI's smoke run uses), FUZZ_LOG_DIR.
set -euo pipefail

cd "$(dirname "$0")/.."
mode=${1:-}
SANITIZER=${FUZZ_SANITIZER:-none}
LOG_DIR=${FUZZ_LOG_DIR:-${TMPDIR:-/tmp}}
export RUSTC_BOOTSTRAP=1

usage() {
    sed -n '5,6p' "$0" >&2
    exit 2
}

case "$mode" in
    short)
        limit=(-max_total_time="${2:-15}")
        requested=()
        ;;
    long)
        limit=(-runs="${2:-10000000}")
        requested=("${@:3}")
        ;;
    *) usage ;;
esac

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz" >&2
    nice cargo install cargo-fuzz --locked
fi

all_targets=()
for source in fuzz/fuzz_targets/*.rs; do
    all_targets+=("$(basename "$source" .rs)")
done
targets=("${requested[@]:-${all_targets[@]}}")

build=(--sanitizer "$SANITIZER" --debug-assertions)
if [ "${FUZZ_DEV:-0}" = 1 ]; then
    build+=(--dev)
fi
# One build of every target first, so that the timings below measure fuzzing, not compiling.
nice cargo fuzz build "${build[@]}"

summary=()
for target in "${targets[@]}"; do
    [ -f "fuzz/fuzz_targets/$target.rs" ] || { echo "no fuzz target $target" >&2; exit 2; }
    corpus="fuzz/corpus/$target"
    mkdir -p "$corpus"
    if [ -d "fuzz/seeds/$target" ]; then
        cp -n "fuzz/seeds/$target"/* "$corpus"/ 2>/dev/null || true
    fi
    log="$LOG_DIR/fuzz-$mode-$target.log"
    echo "== $target ($mode: ${limit[*]}) → $log" >&2
    started=$(date +%s)
    # -timeout: any single input slower than 10 s is a hang worth reporting (a verification is bounded far below).
    set +e
    nice cargo fuzz run "${build[@]}" "$target" "$corpus" -- \
        "${limit[@]}" -print_final_stats=1 -timeout=10 2>&1 | tee "$log" |
        { grep -E '^(#[0-9]+[[:space:]]+DONE|stat::|==[0-9]+== ERROR|SUMMARY|Test unit written|thread .* panicked)' >&2; true; }
    status=${PIPESTATUS[0]}
    set -e
    seconds=$(($(date +%s) - started))

    executions=$(grep -oE '^stat::number_of_executed_units: +[0-9]+' "$log" | tail -1 | grep -oE '[0-9]+$' || true)
    rate=$(grep -oE '^stat::average_exec_per_sec: +[0-9]+' "$log" | tail -1 | grep -oE '[0-9]+$' || true)
    done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 || true)
    coverage=$(grep -oE 'cov: [0-9]+' <<<"$done_line" | grep -oE '[0-9]+' || true)
    features=$(grep -oE 'ft: [0-9]+' <<<"$done_line" | grep -oE '[0-9]+' || true)
    corpus_size=$(grep -oE 'corp: [0-9]+/[0-9]+[a-zA-Z]*' <<<"$done_line" | cut -d' ' -f2 || true)
    result=$([ "$status" -eq 0 ] && echo "no crash" || echo "FAILED (exit $status), see fuzz/artifacts/$target/")
    summary+=("| $target | ${executions:-?} | $seconds | ${rate:-?} | ${coverage:-?} | ${features:-?} | ${corpus_size:-?} | $result |")
    if [ "$status" -ne 0 ]; then
        printf '%s\n' "${summary[@]}" >&2
        exit "$status"
    fi
done

echo
echo "| target | executions | seconds | exec/s | cov | ft | corpus (units/size) | result |"
echo "|---|---:|---:|---:|---:|---:|---:|---|"
printf '%s\n' "${summary[@]}"
