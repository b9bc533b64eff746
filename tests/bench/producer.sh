#!/usr/bin/env bash
# Producer benchmark: librmq and the official Java client, same broker, same
# run, same workloads (async with a window of 1000, sync with 4 threads,
# 256 B bodies). Prints both JSON lines and the ratios.
# Usage: tests/bench/producer.sh [COUNT]   (uses or starts target single-5)
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-200000}
export RMQ_RUN_ROOT=${RMQ_RUN_ROOT:-/tmp/librmq-bench}
H=tests/broker/harness
started=0
if [ ! -f "$RMQ_RUN_ROOT/bench/env" ]; then
  "$H" start single --version 5 --name bench --port-base 11876 >/dev/null
  started=1
fi
. "$RMQ_RUN_ROOT/bench/env"
[ -x build/tests/bench/producer_bench ] || { meson setup build >/dev/null 2>&1 || true; ninja -C build tests/bench/producer_bench >/dev/null; }
T=BenchT_$$
"$H" topic bench $T --queues 8
out=$(mktemp)
for w in "async 1 1000" "sync 4 0"; do
  set -- $w
  RMQ_NAMESRV=$RMQ_NAMESRV tests/interop/peer --version 5 bench-produce --topic $T \
    --count "$N" --size 256 --mode "$1" --threads "$2" --window 1000 | tee -a "$out"
  build/tests/bench/producer_bench "$RMQ_NAMESRV" $T "$N" 256 "$1" "$2" 1000 | tee -a "$out"
done
python3 - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
for mode in ("async", "sync"):
    j = next(r for r in rows if r["mode"] == mode and r["client"].startswith("java"))
    c = next(r for r in rows if r["mode"] == mode and r["client"].startswith("librmq"))
    print(f"{mode:5}: throughput {c['msgsPerSec']/j['msgsPerSec']:.2f}x Java, "
          f"CPU/msg {c['cpuUsPerMsg']/j['cpuUsPerMsg']:.2f}x, "
          f"p50 {c['p50us']/max(j['p50us'],1):.2f}x, p99 {c['p99us']/max(j['p99us'],1):.2f}x, "
          f"RSS {c['rssKiB']/j['rssKiB']:.3f}x")
PY
rm -f "$out"
[ $started = 1 ] && "$H" stop bench >/dev/null
exit 0
