#!/usr/bin/env bash
# Long fuzzing campaign (issue 15: every target to 10^7 executions): builds
# the libFuzzer targets with ASan+UBSan, runs each from its corpus for
# RUNS executions (or until MAX_SECONDS), merges what adds coverage into a
# work corpus (not the repository's: a crash reproducer is what belongs
# there), and prints a table for doc/reliability.md: executions, time,
# rate, new units, peak RSS, crashes.
#
#   tests/bench/fuzz_long.sh [RUNS] [MAX_SECONDS] [TARGET...]
#
# Environment: FUZZ_BUILD (default /tmp/librmq-fuzz-build), FUZZ_WORK
# (default /tmp/librmq-fuzz-work), FUZZ_NICE (default 10),
# RMQ_FUZZ_MAX_INFLATED (default 1048576: inflating the 64 MiB limit seed's
# mutants would take most of the time; CI's smoke run and the corpus
# replay keep the full limit).
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-10000000}
max_s=${2:-3600}
shift $(($# > 2 ? 2 : $#))
build=${FUZZ_BUILD:-/tmp/librmq-fuzz-build}
work=${FUZZ_WORK:-/tmp/librmq-fuzz-work}
export RMQ_FUZZ_MAX_INFLATED=${RMQ_FUZZ_MAX_INFLATED:-1048576}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
if [ ! -d "$build" ]; then
  CC=clang meson setup "$build" -Dfuzzing=true -Dtests=false -Dexamples=false \
    -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
fi
ninja -C "$build" >/dev/null
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for exe in "$build"/fuzz/fuzz_*; do
    [ -x "$exe" ] && [ -f "$exe" ] && targets+=("${exe##*/fuzz_}")
  done
fi
mkdir -p "$work"
printf '| target | executions | seconds | execs/s | new units | peak RSS MB | result |\n'
printf '| --- | --- | --- | --- | --- | --- | --- |\n'
for t in "${targets[@]}"; do
  exe="$build/fuzz/fuzz_$t"
  corpus="$work/$t"
  mkdir -p "$corpus" "$work/crashes-$t"
  cp -rn "fuzz/corpus/$t/." "$corpus/" 2>/dev/null || true
  opts=()
  max_len=$(sed -n 's/^max_len *= *\([0-9]*\).*/\1/p' "fuzz/$t.options" 2>/dev/null || true)
  [ -n "$max_len" ] && opts+=("-max_len=$max_len")
  log="$work/$t.log"
  t0=$(date +%s)
  result=clean
  nice -n "${FUZZ_NICE:-10}" "$exe" -runs="$runs" -max_total_time="$max_s" \
    -rss_limit_mb=4096 -print_final_stats=1 -artifact_prefix="$work/crashes-$t/" \
    ${opts[@]+"${opts[@]}"} "$corpus" >"$log" 2>&1 || result="FAILED (see $log)"
  secs=$(($(date +%s) - t0))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  added=$(sed -n 's/^stat::new_units_added: *//p' "$log")
  rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log")
  rate=$(( ${execs:-0} / (secs > 0 ? secs : 1) ))
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$t" "${execs:-?}" "$secs" "$rate" \
    "${added:-?}" "${rss:-?}" "$result"
done
