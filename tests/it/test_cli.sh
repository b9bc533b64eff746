#!/usr/bin/env bash
# The command-line tool (examples/rmq.c, doc/cli.md) against the broker
# target RMQ_IT_TARGET:
#  - send lines (keys, tag, property) and a whole binary input, consume them
#    back as JSON lines with the lite pull consumer: ids, bodies (text and
#    base64), keys, tags and the property match exactly, each message once;
#  - route lists the topic's 4 queues; offsets shows lag 0 and the
#    committed offsets Java's mqadmin reports for the group;
#  - --async sends consumed back by --push; a sharding key picks one queue;
#  - exit codes: 2 for usage errors, 1 (within a bound) for an unreachable
#    name server and an unknown topic, with one line on stderr;
#  - a short perf produce/consume run prints its summary (and with
#    --stats the statistics JSON, checked).
#   test_cli.sh RMQ_EXE
# RMQ_WRAP, when set, is a command line rmq runs under (e.g. valgrind:
# tests/bench/valgrind_it.sh), this script staying native.
set -euo pipefail
rmq=$1
root=${RMQ_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=target-env.sh
. "$(dirname "$0")/target-env.sh"
ns=$RMQ_NAMESRV
tag=${RMQ_IT_TARGET//-/_}_$$_$RANDOM
topic=Cli_$tag
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -n "${RMQ_WRAP:-}" ]; then
  printf '#!/bin/sh\nexec %s "%s" "$@"\n' "$RMQ_WRAP" "$rmq" >"$tmp/rmq"
  chmod +x "$tmp/rmq"
  rmq=$tmp/rmq
fi
fail() { echo "FAIL: $*"; exit 1; }
"$root/tests/broker/harness" topic "$RMQ_IT_TARGET" "$topic" --queues 4 >/dev/null

# expect CODE MAXSECONDS CMD...: exit code and one line on stderr, in time
expect() {
  local want=$1 max=$2; shift 2
  local t0=$SECONDS rc=0
  "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
  local el=$((SECONDS - t0))
  [ "$rc" = "$want" ] || fail "'$*' exited $rc, want $want: $(cat "$tmp/err")"
  [ "$el" -le "$max" ] || fail "'$*' took ${el}s, want <= ${max}s"
  [ "$(wc -l <"$tmp/err")" = 1 ] || fail "'$*' stderr is not one line: $(cat "$tmp/err")"
  echo "ok: exit $rc in ${el}s: $(cat "$tmp/err")"
}

# ---- exit codes
expect 2 5 "$rmq" nosuchcommand
expect 2 5 "$rmq" send -b "$ns" -t "$topic" --bogus x
expect 2 5 "$rmq" consume -b "$ns" -t "$topic"            # no -g
expect 2 5 "$rmq" send -b "$ns" -t "$topic" --delay 99 x
expect 2 5 "$rmq" consume -b "$ns" -t "$topic" -g g --from yesterday
expect 2 5 "$rmq" send -b "$ns" -t "$topic" -X noSuchKey=1 x
expect 1 20 "$rmq" send -b 127.0.0.1:1 -t "$topic" -X sendMsgTimeout=3000 x
expect 1 20 "$rmq" route -b 127.0.0.1:1 -t "$topic"
expect 1 20 "$rmq" consume -b 127.0.0.1:1 -t "$topic" -g "g_$tag" -c 1
expect 1 20 "$rmq" route -b "$ns" -t "NoSuchTopic_$tag"
"$rmq" send --help | grep -q -- '--sharding-key' || fail "send --help"
"$rmq" consume -h | grep -q -- '--idle-ms' || fail "consume -h"

# ---- route: one broker, queues 0..3
"$rmq" route -b "$ns" -t "$topic" >"$tmp/route"
cat "$tmp/route"
grep -qx "broker .* queues 4: 0 1 2 3" "$tmp/route" || fail "route"
[ "$("$rmq" route -b "$ns" -t "$topic" -J | jq -c '.brokers[0].queues')" = "[0,1,2,3]" ] ||
  fail "route -J"

# ---- send 20 lines and one whole binary input, consume them back
n=20
for i in $(seq 1 $n); do printf 'line %d "quoted" \\ tab\there ü €\n' "$i"; done >"$tmp/lines"
"$rmq" send -b "$ns" -t "$topic" -k "k1 k2" -T TagA -p color=blue -p n=7 -J \
  <"$tmp/lines" >"$tmp/sent"
[ "$(wc -l <"$tmp/sent")" = $n ] || fail "send printed $(wc -l <"$tmp/sent") lines, want $n"
[ "$(jq -s --arg t "$topic" 'map(select(.status == "SEND_OK" and .topic == $t and .offset >= 0)) | length' \
  "$tmp/sent")" = $n ] || fail "a send result is not SEND_OK: $(cat "$tmp/sent")"
printf 'first\nsecond\n\001\377\000end' >"$tmp/whole"
"$rmq" send -b "$ns" -t "$topic" --whole -J <"$tmp/whole" >>"$tmp/sent"
[ "$(wc -l <"$tmp/sent")" = $((n + 1)) ] || fail "send --whole"
group=CliGroup_$tag
"$rmq" consume -b "$ns" -t "$topic" -g "$group" --from first -c $((n + 1)) \
  --idle-ms 30000 -f json >"$tmp/got"
[ "$(wc -l <"$tmp/got")" = $((n + 1)) ] || fail "consumed $(wc -l <"$tmp/got"), want $((n + 1))"
# ids and bodies exactly: the lines as text, the whole input as base64
{
  paste -d'\t' <(jq -r '.msgId' "$tmp/sent" | head -n $n) \
    <(jq -R -r '@base64' "$tmp/lines")
  printf '%s\t%s\n' "$(jq -r '.msgId' "$tmp/sent" | tail -n 1)" "$(base64 -w0 "$tmp/whole")"
} | sort >"$tmp/want"
jq -r '[.msgId, (if .bodyEncoding == "text" then (.body | @base64) else .body end)] | @tsv' \
  "$tmp/got" | sort >"$tmp/have"
diff "$tmp/want" "$tmp/have" || fail "consumed ids/bodies differ from what was sent"
[ "$(jq -s 'map(select(.bodyEncoding == "base64")) | length' "$tmp/got")" = 1 ] || fail "not one base64 body"
[ "$(jq -r --arg t "$topic" 'select(.keys == "k1 k2" and .tags == "TagA" and
      .properties.color == "blue" and .properties.n == "7" and .topic == $t and
      .reconsumeTimes == 0) | .msgId' "$tmp/got" | wc -l)" = $n ] ||
  fail "keys, tags or properties differ: $(head -n 2 "$tmp/got")"
echo "ok: $((n + 1)) messages sent and consumed back exactly"

# ---- offsets: lag 0 everywhere, the committed offsets as mqadmin sees them
"$rmq" offsets -b "$ns" -t "$topic" -g "$group" | tee "$tmp/offsets"
grep -qx "total lag 0" "$tmp/offsets" || fail "total lag is not 0"
"$rmq" offsets -b "$ns" -t "$topic" -g "$group" -J >"$tmp/offsets.json"
[ "$(jq -s 'map(select(.lag == 0 and .committed == .max)) | length' "$tmp/offsets.json")" = 4 ] ||
  fail "offsets -J: $(cat "$tmp/offsets.json")"
[ "$(jq -s 'map(.max) | add' "$tmp/offsets.json")" = $((n + 1)) ] || fail "max offsets do not add up to $((n + 1))"
"$root/tests/broker/harness" offsets "$RMQ_IT_TARGET" "$group" "$topic" >"$tmp/java"
# mqadmin consumerProgress: topic broker qid brokerOffset consumerOffset ...
diff <(awk -v t="$topic" '$1 == t {print $2, $3, $5, $4}' "$tmp/java" | sort) \
  <(jq -r '"\(.broker) \(.queue) \(.committed) \(.max)"' "$tmp/offsets.json" | sort) ||
  fail "offsets differ from mqadmin's: $(cat "$tmp/java")"
# a group that never consumed: nothing committed (or, as 4.x brokers answer
# while the queue's first message is in memory, 0): the whole queue is lag
[ "$("$rmq" offsets -b "$ns" -t "$topic" -g "Fresh_$tag" -J |
     jq -s 'map(select((.committed == null and .lag == null) or
                       (.committed == 0 and .lag == .max))) | length')" = 4 ] ||
  fail "a fresh group has committed offsets"

# ---- async sends consumed back by the push consumer
for i in $(seq 1 10); do echo "async $i"; done | "$rmq" send -b "$ns" -t "$topic" --async -J >"$tmp/async"
[ "$(wc -l <"$tmp/async")" = 10 ] || fail "send --async printed $(wc -l <"$tmp/async") lines"
"$rmq" consume -b "$ns" -t "$topic" -g "Push_$tag" --push --from first -c $((n + 11)) \
  --idle-ms 30000 -J >"$tmp/push"
[ "$(jq -r '.msgId' "$tmp/push" | sort -u | wc -l)" = $((n + 11)) ] ||
  fail "push consumed $(wc -l <"$tmp/push"), want $((n + 11)) distinct"
diff <(jq -r '.msgId' "$tmp/async" | sort) \
  <(jq -r 'select(.body | startswith("async ")) | .msgId' "$tmp/push" | sort) ||
  fail "push: async ids differ"

# ---- a sharding key picks one queue
for i in 1 2 3 4 5; do echo "order $i"; done |
  "$rmq" send -b "$ns" -t "$topic" --sharding-key order-42 -J >"$tmp/ordered"
[ "$(jq -r '.queue' "$tmp/ordered" | sort -u | wc -l)" = 1 ] || fail "sharding key: several queues"

# ---- Ctrl-C stops a consume with no count or idle bound: exit 0, in time
"$rmq" consume -b "$ns" -t "$topic" -g "Int_$tag" >/dev/null 2>"$tmp/int.err" &
pid=$!
sleep 2 # let it start; the check is that SIGINT ends it, however long it ran
kill -INT $pid
t0=$SECONDS
rc=0; wait $pid || rc=$?
[ "$rc" = 0 ] && [ $((SECONDS - t0)) -le 10 ] || fail "SIGINT: exit $rc after $((SECONDS - t0))s"

# ---- perf
"$rmq" perf produce -b "$ns" -t "$topic" -n 300 -s 64 >"$tmp/perf" 2>"$tmp/perf.err"
cat "$tmp/perf"
grep -Eq '^% 300 messages produced \(19200 bytes\), 300 delivered, 0 failed in [0-9]+ ms: [0-9]+ msgs/s and [0-9.]+ MB/s, latency p50 [0-9.]+ ms p99 [0-9.]+ ms' \
  "$tmp/perf" || fail "perf produce summary"
"$rmq" perf produce -b "$ns" -t "$topic" -n 300 -s 64 --async --stats >"$tmp/perf" 2>"$tmp/perf.err"
grep -q ' 300 delivered, 0 failed' "$tmp/perf" || fail "perf produce --async: $(cat "$tmp/perf")"
# --stats: the client's statistics document after the summary, its
# producer having stored the 300 messages of 64 bytes
python3 - "$tmp/perf" <<'PY' || fail "perf produce --stats: $(tail -1 "$tmp/perf")"
import json, sys
doc = json.loads(open(sys.argv[1]).read().splitlines()[-1])
p = doc["producers"][0]
assert p["msgs_ok"] == 300 and p["bytes_ok"] == 300 * 64, p
assert p["msgs_failed"] == 0 and p["success_rate"] == 1, p
assert any(b["role"] == "broker" and b["state"] == "up" for b in doc["brokers"])
PY
total=$((n + 1 + 10 + 5 + 600))
"$rmq" perf consume -b "$ns" -t "$topic" -g "Perf_$tag" -n $total --idle-ms 30000 >"$tmp/perf" 2>"$tmp/perf.err"
cat "$tmp/perf"
grep -Eq "^% $total messages \([0-9]+ bytes\) consumed in [0-9]+ ms: [0-9]+ msgs/s" "$tmp/perf" ||
  fail "perf consume summary"
echo "PASS"
