#!/usr/bin/env bash
# The broker tests under valgrind memcheck (issue 15; doc/reliability.md,
# "valgrind"): each C integration test of the given targets runs once, one
# at a time, under the options of `meson test --setup=valgrind` (an error or
# a definite leak fails it; RMQ_TEST_SLOWDOWN=20). Only our processes run
# under valgrind: --trace-children=no leaves the Java peers, mqadmin and the
# harness (started through /bin/sh) native; the reliability test's own
# children (the test binary again) are traced. The examples and the rmq tool
# run through their scripts with RMQ_WRAP set to the same valgrind command,
# so the script (bash) stays native while every C program it starts runs
# under memcheck.
# Prints one row per test: target, test, exit code, memcheck errors,
# definite leaks, verdict, wall seconds; XML reports stay in OUT.
#
#   tests/bench/valgrind_it.sh [TARGET...]       (default: single-4 single-5)
#
# The targets must be running (tests/broker/harness start single ...) in
# RMQ_RUN_ROOT. Environment: RMQ_BUILD (build), RMQ_VG_OUT (report
# directory, default $RMQ_BUILD/valgrind-it), RMQ_VG_TESTS (which tests,
# default: those the targets' profile runs), RMQ_VG_TIMEOUT (s per test,
# 7200).
set -uo pipefail
cd "$(dirname "$0")/../.."
: "${RMQ_RUN_ROOT:?the harness run root of the targets}"
B=${RMQ_BUILD:-build}
OUT=${RMQ_VG_OUT:-$B/valgrind-it}
mkdir -p "$OUT"
[ $# -gt 0 ] || set -- single-4 single-5
VG=(valgrind --error-exitcode=99 --leak-check=full
  --errors-for-leak-kinds=definite --show-leak-kinds=definite
  --trace-children=no --num-callers=30 -q)
export RMQ_TEST_SLOWDOWN=20 RMQ_REQUIRE_BROKER=1 RMQ_SOURCE_ROOT=$PWD

# tests a target's profile runs (tests/it/meson.build)
tests_of() {
  case $1 in
  single-*) echo producer raw pull consumer consumer_java autobatch push \
    transaction trace namespace request stats cli examples ;;
  two-*) echo failover reliability ;;
  ms-*) echo masterslave ;;
  acl-* | tls-* | tlsacl-*) echo "${1%-*}" ;;
  *) echo "valgrind_it: unknown target $1" >&2 ;;
  esac
}

# errors and definite leaks in the XML reports named $1.*.xml
count() {
  local e=0 l=0 f
  for f in "$1".*.xml; do
    [ -f "$f" ] || continue
    l=$((l + $(grep -c '<kind>Leak_DefinitelyLost</kind>' "$f")))
    e=$((e + $(grep '<kind>' "$f" | grep -vc 'Leak_')))
  done
  echo "$e $l"
}

run() { # target test command...
  local tg=$1 t=$2 base="$OUT/$1.$2"; shift 2
  rm -f "$base".*.xml
  local t0 rc
  t0=$(date +%s)
  RMQ_IT_TARGET=$tg timeout -k 30 "${RMQ_VG_TIMEOUT:-7200}" "$@" >"$base.log" 2>&1
  rc=$?
  local el=$(($(date +%s) - t0)) n
  n=$(count "$base")
  set -- $n
  local verdict=pass
  [ "$rc" = 0 ] || verdict=FAIL
  printf '%-9s %-14s rc=%-3s errors=%-3s leaks=%-3s %-4s %6ss\n' \
    "$tg" "$t" "$rc" "$1" "$2" "$verdict" "$el"
}

echo "# valgrind_it: $(valgrind --version), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)"
for tg in "$@"; do
  for t in ${RMQ_VG_TESTS:-$(tests_of "$tg")}; do
    xml=(--xml=yes "--xml-file=$OUT/$tg.$t.%p.xml")
    case $t in
    cli)
      RMQ_WRAP="${VG[*]} ${xml[*]}" run "$tg" "$t" tests/it/test_cli.sh "$B/examples/rmq" ;;
    examples)
      for e in producer_normal producer_batch producer_delay producer_ordered \
        producer_transaction request_reply consumer_lite_pull consumer_raw_pull \
        consumer_push consumer_push_orderly; do
        args=("$B/examples/$e")
        case $e in
        consumer_push_orderly) args+=("$B/examples/producer_ordered") ;;
        consumer_*) args+=("$B/examples/producer_normal") ;;
        esac
        xml=(--xml=yes "--xml-file=$OUT/$tg.example_$e.%p.xml")
        RMQ_WRAP="${VG[*]} ${xml[*]}" run "$tg" "example_$e" tests/it/run-example.sh "${args[@]}"
      done ;;
    reliability) # its chaos consumers are the test binary again (execl):
      # under memcheck too; what it starts through /bin/sh is not
      run "$tg" "$t" "${VG[@]}" "${xml[@]}" --trace-children=yes \
        --trace-children-skip=/bin/sh,/usr/bin/sh,*/bash "$B/tests/it/test_it_$t" ;;
    *) run "$tg" "$t" "${VG[@]}" "${xml[@]}" "$B/tests/it/test_it_$t" ;;
    esac
  done
done
