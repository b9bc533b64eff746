#!/usr/bin/env bash
# TLS against plaintext, same broker, same run: a broker in TLS permissive
# mode accepts both, so the one producer benchmark runs alternately with
# and without useTLS (async, window 1000, 256 B bodies; then sync with 4
# threads). Prints each run's JSON line and the medians' ratios.
# Usage: tests/bench/tls.sh [COUNT] [ROUNDS]
# Environment: RMQ_RUN_ROOT (default /tmp/librmq-bench), RMQ_BUILD (build),
# RMQ_BENCH_VERSION (5).
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-200000}
R=${2:-3}
export RMQ_RUN_ROOT=${RMQ_RUN_ROOT:-/tmp/librmq-bench}
B=${RMQ_BUILD:-build}
V=${RMQ_BENCH_VERSION:-5}
H=tests/broker/harness
TG=benchtls
RMQ_TLS_SERVER_MODE=permissive "$H" start tls --version "$V" --name $TG --port-base 11876 >/dev/null
trap '"$H" stop $TG >/dev/null 2>&1 || true' EXIT
. "$RMQ_RUN_ROOT/$TG/env"
[ -x "$B/tests/bench/producer_bench" ] || { meson setup "$B" >/dev/null 2>&1 || true; ninja -C "$B" tests/bench/producer_bench >/dev/null; }
T=BenchTls_$$
"$H" topic $TG $T --queues 8 >/dev/null
out=$(mktemp)
for w in "async 1 1000" "sync 4 0"; do
  set -- $w
  n=$N
  [ "$1" = sync ] && n=$((N / 4))
  for r in $(seq "$R"); do
    "$B/tests/bench/producer_bench" "$RMQ_NAMESRV" $T $n 256 "$1" "$2" "$3" |
      sed 's/^/plain /' | tee -a "$out"
    "$B/tests/bench/producer_bench" "$RMQ_NAMESRV" $T $n 256 "$1" "$2" "$3" \
      useTLS=true tlsTrustCertPath="$RMQ_TLS_CA" | sed 's/^/tls /' | tee -a "$out"
  done
done
python3 - "$out" <<'PY'
import json, statistics as st, sys
rows = {}
for line in open(sys.argv[1]):
    kind, js = line.split(" ", 1)
    d = json.loads(js)
    rows.setdefault((d["mode"], kind), []).append(d)
for mode in ("async", "sync"):
    p, t = rows[(mode, "plain")], rows[(mode, "tls")]
    mp = st.median(d["msgsPerSec"] for d in p)
    mt = st.median(d["msgsPerSec"] for d in t)
    cp = st.median(d["cpuUsPerMsg"] for d in p)
    ct = st.median(d["cpuUsPerMsg"] for d in t)
    print(f"{mode:5}: TLS {mt:.0f} msg/s vs plain {mp:.0f} ({mt/mp:.2f}x), "
          f"CPU/msg {ct:.2f} vs {cp:.2f} us ({ct/cp:.2f}x), {len(p)} rounds each")
PY
rm -f "$out"
