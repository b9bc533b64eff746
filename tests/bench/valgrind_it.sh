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
    transaction trace namespace request stats cli examples python ;;
  netfault-two-*) echo netfault_two ;;
  netfault-*) echo netfault ;;
  two-*) echo failover reliability ;;
  ms-*) echo masterslave ;;
  acl-* | tls-* | tlsacl-*) echo "${1%-*}" ;;
  *) echo "valgrind_it: unknown target $1" >&2 ;;
  esac
}

# errors and definite leaks in the XML reports named $1.*.xml; with
# VG_OURS set, only those with a frame in librmq (the Python tests: the
# interpreter's own are not ours to count)
count() {
  python3 - "$1" <<'PY'
import glob, os, sys
import xml.etree.ElementTree as ET
errors = leaks = 0
for f in glob.glob(sys.argv[1] + ".*.xml"):
    try:
        root = ET.parse(f).getroot()
    except ET.ParseError:  # a process killed mid-report: count what is there
        root = ET.fromstring(open(f).read() + "</valgrindoutput>")
    for e in root.iter("error"):
        if os.environ.get("VG_OURS") and not any(
                "librmq" in (o.text or "") for o in e.iter("obj")):
            continue
        if e.findtext("kind") == "Leak_DefinitelyLost":
            leaks += 1
        elif not e.findtext("kind", "").startswith("Leak_"):
            errors += 1
print(errors, leaks)
PY
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
    python) # the interpreter under memcheck (PYTHONMALLOC=malloc: its own
      # allocator hides nothing); only findings with a frame in librmq count
      py_env=(RMQ_LIB="$B/lib/librmq.so" RMQ_PY_LAYOUT="$B/tests/it/py_layout" PYTHONMALLOC=malloc)
      for ex in normal ordered transaction delay batch; do
        xml=(--xml=yes "--xml-file=$OUT/$tg.python_example_$ex.%p.xml")
        VG_OURS=1 run "$tg" "python_example_$ex" env "${py_env[@]}" "${VG[@]}" "${xml[@]}" \
          python3 tests/python/test_examples.py "$ex"
      done
      for c in struct_layout message_properties send_results orderly_consumer \
        transaction_commit_rollback bounded_shutdown shutdown_from_listener_refused \
        ctrl_c_with_listener_running; do
        xml=(--xml=yes "--xml-file=$OUT/$tg.python_$c.%p.xml")
        VG_OURS=1 RMQ_TEST_CASE=$c run "$tg" "python_$c" env "${py_env[@]}" "${VG[@]}" "${xml[@]}" \
          python3 tests/python/test_binding.py
      done ;;
    reliability) # its chaos consumers are the test binary again (execl):
      # under memcheck too; what it starts through /bin/sh is not
      run "$tg" "$t" "${VG[@]}" "${xml[@]}" --trace-children=yes \
        --trace-children-skip=/bin/sh,/usr/bin/sh,*/bash "$B/tests/it/test_it_$t" ;;
    *) run "$tg" "$t" "${VG[@]}" "${xml[@]}" "$B/tests/it/test_it_$t" ;;
    esac
  done
done
