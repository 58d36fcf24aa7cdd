#!/usr/bin/env bash
# Instructions one CI registration (POST + read-back GET, in process) costs govboard's Python
# process, counted by callgrind: repeatable to about 0.05 % run to run on one machine.
#
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/govboard_prof REDIS_URL=redis://127.0.0.1:6379/15 \
#       bench/instructions_per_registration.sh [N] [CHECKOUT]
#
# The database must be migrated (bench/profile_registration.py -n 1 does it). CHECKOUT (default:
# this one) lets two commits be compared on the same database: a `git worktree` of the other.
# Prints "<instructions per registration> Ir (n=N, <commit>)". About 1.5 minutes for N=100.
set -euo pipefail
N=${1:-100}
CHECKOUT=$(cd "${2:-$(dirname "$0")/..}" && pwd)
PY=${PYTHON:-$(cd "$(dirname "$0")/.." && pwd)/.venv/bin/python}
: "${DATABASE_URL:?set DATABASE_URL to a migrated PostgreSQL database of its own}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkfifo "$work/in"
exec 3<>"$work/in"
cd "$CHECKOUT"
N=$N valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$work/out" \
    "$PY" bench/callgrind_registration.py <&3 >"$work/log" 2>&1 &
pid=$!
until grep -q READY "$work/log" 2>/dev/null; do
    kill -0 $pid 2>/dev/null || { cat "$work/log" >&2; exit 1; }
    sleep 1
done
callgrind_control -i on $pid >/dev/null
echo >&3
until grep -q DONE "$work/log"; do
    kill -0 $pid 2>/dev/null || { cat "$work/log" >&2; exit 1; }
    sleep 1
done
callgrind_control -i off $pid >/dev/null
echo >&3
wait $pid || { echo "the scenario failed:" >&2; tail -20 "$work/log" >&2; exit 1; }
total=$(callgrind_annotate "$work"/out* 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
echo "$((total / N)) Ir per registration (n=$N, $(git -C "$CHECKOUT" rev-parse --short HEAD))"
