#!/usr/bin/env bash
# The README's demo: build librmq, start a local RocketMQ (5.x) on
# 127.0.0.1, send with every producer mode through the library (a
# transaction included), consume them back through the library's push
# consumer, let the official Java client read them too, make a request
# and get its reply, print what happened, stop.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/install-deps
echo "== building librmq"
[ -d build ] || meson setup build >/dev/null
ninja -C build >/dev/null
export RMQ_RUN_ROOT=${RMQ_RUN_ROOT:-/tmp/librmq-demo}
H=tests/broker/harness
trap '"$H" stop demo >/dev/null 2>&1 || true' EXIT
echo "== starting RocketMQ (first run downloads it from Maven Central)"
"$H" start single --version 5 --name demo --port-base 15876 >/dev/null
. "$RMQ_RUN_ROOT/demo/env"
echo "   name server $RMQ_NAMESRV, broker $RMQ_BROKER_A (RocketMQ $RMQ_VERSION)"
T=DemoTopic
"$H" topic demo $T --queues 4
for e in producer_normal producer_ordered producer_batch producer_delay producer_transaction; do
  echo "== examples/$e.c"
  build/examples/$e "$RMQ_NAMESRV" $T
done
echo "== examples/consumer_push.c reads them back (push consumer, group PushConsumerGroup)"
build/examples/consumer_push "$RMQ_NAMESRV" $T 17 | sed 's/^/   /'
echo "== the official Java client reads them too (group DemoGroup)"
RMQ_NAMESRV=$RMQ_NAMESRV tests/interop/peer --version 5 consume --mode pull \
  --group DemoGroup --topic $T --count 17 --timeout-ms 40000 --from first |
  python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("summary"):
        print("   %d messages received" % m["count"]); continue
    print("   queue %d offset %-3d tags=%-8s %s" % (m["queueId"], m["queueOffset"],
          m.get("tags") or "-", m.get("bodyText") or ("%d bytes" % m["bodyLen"])))
'
echo "== examples/request_reply.c: requests answered through the broker"
"$H" topic demo DemoRequestTopic --queues 4
build/examples/request_reply "$RMQ_NAMESRV" DemoRequestTopic | sed 's/^/   /'
echo "== stopping RocketMQ"
