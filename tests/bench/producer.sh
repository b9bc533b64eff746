#!/usr/bin/env bash
# Producer benchmark: librmq and the official Java client, same broker, same
# run, same workloads (async with a window of 1000, sync with 4 threads,
# 256 B bodies). Prints both JSON lines and the ratios.
# Usage: tests/bench/producer.sh [COUNT] [--autobatch|--tx]
#   --autobatch adds "async-autobatch": the async workload with autoBatch on
#   both sides (Java: setAutoBatch(true) after the warm-up; defaults
#   batchMaxDelayMs 10, batchMaxBytes 32 KiB on both).
#   --tx adds "tx": transactional sends (half message, a local transaction
#   that commits, END_TRANSACTION) on 4 threads; Java's TransactionMQProducer.
# Environment: RMQ_RUN_ROOT, RMQ_BENCH_TARGET (a running single-profile
# target to reuse; default: start target "bench"), RMQ_BUILD (default build).
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-200000}
AB=0 TX=0
[ "${2:-}" = --autobatch ] && AB=1
[ "${2:-}" = --tx ] && TX=1
export RMQ_RUN_ROOT=${RMQ_RUN_ROOT:-/tmp/librmq-bench}
TG=${RMQ_BENCH_TARGET:-bench}
B=${RMQ_BUILD:-build}
H=tests/broker/harness
started=0
if [ ! -f "$RMQ_RUN_ROOT/$TG/env" ]; then
  "$H" start single --version 5 --name "$TG" --port-base 11876 >/dev/null
  started=1
fi
. "$RMQ_RUN_ROOT/$TG/env"
[ -x "$B/tests/bench/producer_bench" ] || { meson setup "$B" >/dev/null 2>&1 || true; ninja -C "$B" tests/bench/producer_bench >/dev/null; }
T=BenchT_$$
"$H" topic "$TG" $T --queues 8
out=$(mktemp)
works=("async 1 1000" "sync 4 0")
[ $AB = 1 ] && works+=("async 1 1000 autobatch")
[ $TX = 1 ] && works+=("tx 4 0")
for w in "${works[@]}"; do
  set -- $w
  jx=() cx=() tag=cat
  if [ "${4:-}" = autobatch ]; then
    jx=(--auto-batch true) cx=(autoBatch=true)
    tag="sed s/\"mode\":\"async\"/\"mode\":\"async-autobatch\"/"
  fi
  RMQ_NAMESRV=$RMQ_NAMESRV RMQ_PEER_FULL_JIT=1 tests/interop/peer --version 5 bench-produce --topic $T \
    --count "$N" --size 256 --mode "$1" --threads "$2" --window 1000 "${jx[@]}" | $tag | tee -a "$out"
  "$B/tests/bench/producer_bench" "$RMQ_NAMESRV" $T "$N" 256 "$1" "$2" 1000 "${cx[@]}" | $tag | tee -a "$out"
done
python3 - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
for mode in ("async", "sync", "async-autobatch", "tx"):
    if not any(r["mode"] == mode for r in rows):
        continue
    j = next(r for r in rows if r["mode"] == mode and r["client"].startswith("java"))
    c = next(r for r in rows if r["mode"] == mode and r["client"].startswith("librmq"))
    print(f"{mode:5}: throughput {c['msgsPerSec']/j['msgsPerSec']:.2f}x Java, "
          f"CPU/msg {c['cpuUsPerMsg']/j['cpuUsPerMsg']:.2f}x, "
          f"p50 {c['p50us']/max(j['p50us'],1):.2f}x, p99 {c['p99us']/max(j['p99us'],1):.2f}x, "
          f"RSS {c['rssKiB']/j['rssKiB']:.3f}x")
PY
rm -f "$out"
[ $started = 1 ] && "$H" stop "$TG" >/dev/null
exit 0
