#!/usr/bin/env bash
# Per-thread CPU of a running process, grouped by thread name: every INTERVAL seconds (1), one line per group with
# the CPU seconds (utime + stime, from /proc/<pid>/task/<tid>/stat) used since the previous sample, then a `machine`
# line with the whole machine's CPU seconds by kind from /proc/stat (`nice` is user time at a raised nice value, such
# as the server's hashing threads; `user` includes the load generator). Used with scripts/bench-http.sh to see where
# a row's CPU goes (hashing threads, actix workers, SQLite workers); figures in docs/benchmarks.md. Linux only. Stop
# it with Ctrl-C.
#
#   scripts/thread-cpu.sh PID [INTERVAL]
#   scripts/thread-cpu.sh "$(pgrep -f 'release/latchkey serve')"
set -euo pipefail

pid=${1:?usage: scripts/thread-cpu.sh PID [INTERVAL]}
interval=${2:-1}
ticks_per_second=$(getconf CLK_TCK)

sample() {
    for task in /proc/"$pid"/task/*; do
        # The name may hold spaces; the fields after its closing parenthesis start at the state (field 3).
        stat=$(cat "$task/stat" 2>/dev/null) || continue
        name=$(cut -c1-14 "$task/comm" 2>/dev/null | tr ' ' '_' | sed 's/-[0-9]*$//') || continue
        read -r -a fields <<<"${stat##*) }"
        echo "$name $((fields[11] + fields[12]))"
    done | awk '{ ticks[$1] += $2 } END { for (name in ticks) print name, ticks[name] }' | sort
}

# The machine's CPU ticks: user, nice, system, idle (the first four fields of /proc/stat's `cpu` line).
machine_ticks() {
    read -r _ user nice system idle _ </proc/stat
    echo "$user $nice $system $idle"
}

previous=$(sample)
previous_machine=$(machine_ticks)
while kill -0 "$pid" 2>/dev/null; do
    sleep "$interval"
    current=$(sample)
    current_machine=$(machine_ticks)
    now=$(date +%T)
    join -a 2 -e 0 -o 2.1,1.2,2.2 <(echo "$previous") <(echo "$current") |
        awk -v hz="$ticks_per_second" -v now="$now" \
            '{ used = ($3 - $2) / hz; if (used > 0) printf "%s %-16s %.2f s\n", now, $1, used }'
    echo "$previous_machine $current_machine" | awk -v hz="$ticks_per_second" -v now="$now" \
        '{ printf "%s machine          user %.2f s, nice %.2f s, system %.2f s, idle %.2f s\n", now,
           ($5 - $1) / hz, ($6 - $2) / hz, ($7 - $3) / hz, ($8 - $4) / hz }'
    previous=$current
    previous_machine=$current_machine
done
