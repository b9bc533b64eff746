#!/usr/bin/env bash
# Soak (issue 15; doc/reliability.md): 30 minutes of asynchronous sends
# and push consumption in one process (tests/bench/soak.c) against a
# two-master cluster, with one broker killed (-9) and restarted in turn
# every RESTART_S seconds; the process's RSS, threads and fds are printed
# every SAMPLE_S seconds. Exits non-zero when a callback did not fire
# exactly once or an acknowledged message was never consumed.
#
#   tests/bench/soak.sh [SECONDS] [RATE] [RESTART_S] [SAMPLE_S]
#
# Environment: RMQ_RUN_ROOT (default /tmp/librmq-soak), RMQ_BUILD (build),
# RMQ_SOAK_VERSION (4 or 5, default 5), RMQ_SOAK_PORT_BASE (39876).
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-1800}
RATE=${2:-1000}
RESTART=${3:-300}
SAMPLE=${4:-60}
export RMQ_RUN_ROOT=${RMQ_RUN_ROOT:-/tmp/librmq-soak}
B=${RMQ_BUILD:-build}
H=tests/broker/harness
TG=soak-${RMQ_SOAK_VERSION:-5}
"$H" start two --version "${RMQ_SOAK_VERSION:-5}" --name "$TG" \
  --port-base "${RMQ_SOAK_PORT_BASE:-39876}" >/dev/null
trap '"$H" stop "$TG" >/dev/null 2>&1 || true' EXIT
. "$RMQ_RUN_ROOT/$TG/env"
ninja -C "$B" tests/bench/soak >/dev/null
T=Soak_$$
"$H" topic "$TG" $T --queues 4 >/dev/null
echo "# soak: $SECS s at $RATE msg/s, a broker killed and restarted every $RESTART s; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
"$B/tests/bench/soak" "$RMQ_NAMESRV" $T "$SECS" "$RATE" "$SAMPLE" &
pid=$!
start=$(date +%s)
which=a
while kill -0 $pid 2>/dev/null; do
  sleep 5
  el=$(($(date +%s) - start))
  if [ $el -lt "$SECS" ] && [ $((el / RESTART)) -gt "${done_restarts:-0}" ]; then
    done_restarts=$((el / RESTART))
    echo "# +$el s: kill -9 broker-$which, restart"
    "$H" kill-broker "$TG" $which >/dev/null
    sleep 10
    "$H" start-broker "$TG" $which >/dev/null
    echo "# +$(($(date +%s) - start)) s: broker-$which back"
    which=$([ $which = a ] && echo b || echo a)
  fi
done
wait $pid
