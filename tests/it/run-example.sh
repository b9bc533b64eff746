#!/usr/bin/env bash
# Runs an example program against the broker target RMQ_IT_TARGET, on a
# topic of its own (auto-created by the broker from TBW102).
#   run-example.sh EXAMPLE                 run it: NAMESRV TOPIC
#       (request_reply must print each of its four replies once)
#   run-example.sh CONSUMER PRODUCER       a consumer example: PRODUCER
#       (producer_normal) sends its three messages to the topic first; the
#       consumer runs with NAMESRV TOPIC 3 and must print each body. With
#       producer_ordered (ten steps of three orders) the consumer runs with
#       NAMESRV TOPIC 10 and must print each order's steps in order.
# RMQ_WRAP, when set, is a command line the programs run under (e.g.
# valgrind: tests/bench/valgrind_it.sh), this script staying native.
set -euo pipefail
exe=$1
producer=${2:-}
wrap=${RMQ_WRAP:-} # split into words on purpose
# shellcheck source=target-env.sh
. "$(dirname "$0")/target-env.sh"
topic="Example_$(basename "$exe")_${RMQ_IT_TARGET//-/_}_$$"
if [ "$(basename "$exe")" = request_reply ]; then
  # requester and replier in one: each of the four requests answered once
  out=$($wrap "$exe" "$RMQ_NAMESRV" "$topic") || { rc=$?; echo "$out"; echo "FAIL: exit $rc"; exit 1; }
  echo "$out"
  for i in 0 1 2 3; do
    n=$(grep -c -- "request $i: reply 'reply to: request $i'" <<<"$out" || true)
    [ "$n" = 1 ] || { echo "FAIL: request $i answered $n times, want once"; exit 1; }
  done
  exit 0
fi
[ -n "$producer" ] || exec $wrap "$exe" "$RMQ_NAMESRV" "$topic"

$wrap "$producer" "$RMQ_NAMESRV" "$topic"
if [ "$(basename "$producer")" = producer_ordered ]; then
  # ten steps of three orders: each order's steps in the order sent
  out=$($wrap "$exe" "$RMQ_NAMESRV" "$topic" 10)
  echo "$out"
  for o in 0 1 2; do
    got=$(grep -o "Order ORDER_$o - Step [0-9]*" <<<"$out" | awk '{print $NF}' | tr '\n' ' ')
    want=$(seq $o 3 9 | tr '\n' ' ')
    [ "$got" = "$want" ] || { echo "FAIL: ORDER_$o steps '$got', want '$want'"; exit 1; }
  done
  exit 0
fi
out=$($wrap "$exe" "$RMQ_NAMESRV" "$topic" 3)
echo "$out"
for body in "Hello RocketMQ" "Async message" "Oneway message"; do
  n=$(grep -c -- "body '$body'" <<<"$out" || true)
  [ "$n" = 1 ] || { echo "FAIL: '$body' printed $n times, want once"; exit 1; }
done
