#!/usr/bin/env bash
# Consumer benchmark: librmq's lite pull consumer, the official Java
# DefaultLitePullConsumer and the Rust client's (rocketmq-client-rust 1.0.0,
# tests/bench/rust consume-lite), same broker, same run, same pre-filled topic
# (COUNT x 256 B, 8 queues), each with a fresh group from the first offset.
# Prints the JSON lines and the ratios (rate, CPU per message, peak RSS).
# With BENCH_MODE=push: librmq's push consumer, Java's DefaultMQPushConsumer
# (full JIT, default GC), the Go client v2's push consumer (tests/bench/go),
# the Rust client's (tests/bench/rust consume-push) and the C++ client's
# DefaultMQPushConsumer (rocketmq-client-cpp master 7c8b7f8, tests/bench/cpp,
# built by tests/bench/cpp/build.sh; it always pulls 32 a request),
# BENCH_ROUNDS rounds (default 3) in rotating order; medians, min-max and
# ratios per peer.
# Usage: tests/bench/consumer.sh [COUNT] [PULL_BATCH]
#   env: RMQ_RUN_ROOT (/tmp/librmq-bench), BENCH_VERSION (5), BENCH_PORT_BASE
#   (11876), BENCH_TARGET (a running harness target to use instead),
#   BUILD (build), BENCH_TOPIC (reuse a topic already holding COUNT
#   messages: no pre-fill), BENCH_CLIENTS (which clients: a subset of
#   "librmq java go rust cpp" for push, of "librmq java rust" for lite pull;
#   default all, rust only when cargo is installed, cpp only when its binary
#   BUILD/tests/bench/cpp-build/cpp-bench exists: it takes minutes to build).
# Uses or starts broker target bench-c<version>; stops it if it started it.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-1000000}
B=${2:-32}
V=${BENCH_VERSION:-5}
BUILD=${BUILD:-build}
export RMQ_RUN_ROOT=${RMQ_RUN_ROOT:-/tmp/librmq-bench}
rustpeer=tests/bench/rust/build.sh
rust=$("$rustpeer" --have-cargo && echo " rust" || true)
cpp=
[ ! -x "$BUILD/tests/bench/cpp-build/cpp-bench" ] || cpp=" cpp"
if [ "${BENCH_MODE:-lite}" = push ]; then modes="librmq java go rust cpp"; defaults="librmq java go$rust$cpp"
else modes="librmq java rust"; defaults="librmq java$rust"; fi
read -r -a clients <<<"${BENCH_CLIENTS:-$defaults}"
for c in "${clients[@]}"; do
  [[ " $modes " == *" $c "* ]] || { echo "consumer.sh: unknown client '$c' ($modes)" >&2; exit 2; }
done
has() { [[ " ${clients[*]} " == *" $1 "* ]]; }
# the Rust peer built before anything is measured
if has rust; then rustbin=$("$rustpeer" "$BUILD"); fi
H=tests/broker/harness
name=${BENCH_TARGET:-bench-c$V}
started=0
if [ ! -f "$RMQ_RUN_ROOT/$name/env" ]; then
  "$H" start single --version "$V" --name "$name" --port-base "${BENCH_PORT_BASE:-11876}" >/dev/null
  started=1
fi
. "$RMQ_RUN_ROOT/$name/env"
[ -x "$BUILD/tests/bench/consumer_bench" ] || { meson setup "$BUILD" >/dev/null 2>&1 || true; ninja -C "$BUILD" tests/bench/consumer_bench tests/bench/producer_bench >/dev/null; }
T=${BENCH_TOPIC:-}
if [ -z "$T" ]; then
  T=BenchCT_$$
  "$H" topic "$name" "$T" --queues 8
  # pre-fill with librmq's async producer (about twice Java's rate)
  t=$(date +%s)
  fill=$("$BUILD/tests/bench/producer_bench" "$RMQ_NAMESRV" "$T" "$N" 256 async 1 1000 || true)
  echo "$fill" >&2
  # the producer's 2,000 warm-up sends make up for a few failed ones
  failed=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["failed"])' "$fill")
  stored=$((N + 2000 - failed))
  [ "$stored" -ge "$N" ] || { echo "# only $stored stored: consuming that many" >&2; N=$stored; }
  echo "# pre-filled $T with $stored x 256 B in $(( $(date +%s) - t )) s" >&2
fi
out=$(mktemp)
if [ "${BENCH_MODE:-lite}" = push ]; then
  gobin=$BUILD/tests/bench/go-bench
  cppbin=$BUILD/tests/bench/cpp-build/cpp-bench
  if has go; then (cd tests/bench/go && go build -o "$OLDPWD/$gobin" .) >&2; fi
  if has cpp; then tests/bench/cpp/build.sh "$BUILD/tests/bench/cpp-build" >/dev/null; fi
  run_librmq() { "$BUILD/tests/bench/consumer_bench" "$RMQ_NAMESRV" "$T" "$N" push "pullBatchSize=$B"; }
  run_java() { RMQ_NAMESRV=$RMQ_NAMESRV RMQ_PEER_FULL_JIT=1 \
    tests/interop/peer --version "$V" bench-consume --mode push --topic "$T" --count "$N" --pull-batch "$B"; }
  run_go() { "$gobin" consume-push -namesrv "$RMQ_NAMESRV" -topic "$T" -count "$N" -pull-batch "$B"; }
  run_rust() { "$rustbin" consume-push -namesrv "$RMQ_NAMESRV" -topic "$T" -count "$N" -pull-batch "$B"; }
  run_cpp() { mkdir -p "$RMQ_RUN_ROOT/cpp-home"
    HOME=$RMQ_RUN_ROOT/cpp-home "$cppbin" consume-push -namesrv "$RMQ_NAMESRV" -topic "$T" -count "$N" -pull-batch "$B"; }
  order=("${clients[@]}")
  for r in $(seq 1 "${BENCH_ROUNDS:-3}"); do
    echo "# round $r: ${order[*]} (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
    for k in "${order[@]}"; do "run_$k" | tee -a "$out"; done
    order=("${order[@]:1}" "${order[0]}")
  done
  python3 - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
def pick(prefix):
    return [r for r in rows if r["client"].startswith(prefix)]
def med(rs, k):
    v = [r[k] for r in rs]
    return statistics.median(v), min(v), max(v)
c = pick("librmq")
for name, prefix in (("Java", "java"), ("Go", "go"), ("Rust", "rust"), ("C++", "cpp")):
    p = pick(prefix)
    if not c or not p:
        continue
    cr, pr = med(c, "msgsPerSec"), med(p, "msgsPerSec")
    cc, pc = med(c, "cpuUsPerMsg"), med(p, "cpuUsPerMsg")
    cm, pm = med(c, "peakRssKiB"), med(p, "peakRssKiB")
    print(f"push vs {name}: rate {cr[0]/max(pr[0],1):.2f}x ({cr[0]:.0f} [{cr[1]:.0f}-{cr[2]:.0f}] vs "
          f"{pr[0]:.0f} [{pr[1]:.0f}-{pr[2]:.0f}] msg/s), CPU/msg {cc[0]/pc[0]:.2f}x ({cc[0]} vs {pc[0]} us), "
          f"peak RSS {cm[0]/pm[0]:.3f}x ({cm[0]:.0f} vs {pm[0]:.0f} KiB)")
PY
  rm -f "$out"
  [ $started = 1 ] && "$H" stop "$name" >/dev/null
  exit 0
fi
# Java with its full JIT (the peer's default stops at C1 for a fast start)
if has java; then
  RMQ_NAMESRV=$RMQ_NAMESRV RMQ_PEER_FULL_JIT=1 \
    tests/interop/peer --version "$V" bench-consume --topic "$T" --count "$N" --pull-batch "$B" | tee -a "$out"
fi
if has librmq; then "$BUILD/tests/bench/consumer_bench" "$RMQ_NAMESRV" "$T" "$N" "pullBatchSize=$B" | tee -a "$out"; fi
if has rust; then "$rustbin" consume-lite -namesrv "$RMQ_NAMESRV" -topic "$T" -count "$N" -pull-batch "$B" | tee -a "$out"; fi
python3 - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
c = next((r for r in rows if r["client"].startswith("librmq")), None)
for name, prefix in (("Java", "java"), ("Rust", "rust")):
    j = next((r for r in rows if r["client"].startswith(prefix)), None)
    if c is None or j is None:
        continue
    print(f"lite pull: rate {c['msgsPerSec']/max(j['msgsPerSec'],1):.2f}x {name} "
          f"({c['msgsPerSec']} vs {j['msgsPerSec']} msg/s), "
          f"CPU/msg {c['cpuUsPerMsg']/j['cpuUsPerMsg']:.2f}x ({c['cpuUsPerMsg']} vs {j['cpuUsPerMsg']} us), "
          f"peak RSS {c['peakRssKiB']/j['peakRssKiB']:.3f}x ({c['peakRssKiB']} vs {j['peakRssKiB']} KiB)")
PY
rm -f "$out"
[ $started = 1 ] && "$H" stop "$name" >/dev/null
exit 0
