#!/usr/bin/env bash
# Producer benchmark against the peers: librmq (tests/bench/producer_bench),
# the official Java client (tests/interop/peer bench-produce, full JIT and
# default G1: RMQ_PEER_FULL_JIT=1, heap RMQ_PEER_HEAP, default 2g), the Go
# client v2 (tests/bench/go produce), the Rust client rocketmq-client-rust
# 1.0.0 (tests/bench/rust produce; at most 512 async sends in flight, the
# client's own cap) and the C++ client (rocketmq-client-cpp master 7c8b7f8,
# 2.2.0 and 52 later commits: tests/bench/cpp/bench.cpp produce, built by
# tests/bench/cpp/build.sh; its logs under RMQ_RUN_ROOT/cpp-home), on one 5.x
# single-broker target and one 8-queue topic, in the same run. Each workload runs every client
# BENCH_ROUNDS times in rotating order (round r starts with the r-th client),
# then prints a markdown table: per client the median and min-max of msgs/s
# and of CPU us per message (user+system of the whole client process over
# the measured sends), medians of MB/s (10^6 body bytes/s), p50/p99/p999
# latency (per send call; per batch in batch mode) and peak RSS (VmHWM), and
# the ratios librmq / peer of those medians.
#
# Workloads (COUNT at BENCH_SCALE 1; bodies of 'x', compression off on every
# client, so the bytes sent are the body bytes; before measuring, each
# client makes 2,000 synchronous sends of the workload's body, or for bodies
# over 1 KiB about 2 MiB of them but at least 100):
#   sync-1        sync, 1 thread, 256 B           50,000
#   sync-4        sync, 4 threads, 256 B         100,000
#   async-w1000   async, 1000 in flight, 256 B   200,000
#   batch-64      sync batches of 64, 1 thread, 256 B  1,000,000 messages
#   async-64B async-1KiB async-16KiB async-256KiB async-1MiB
#                 async, 1000 in flight, 200,000 / 150,000 / 64,000 /
#                 4,000 / 1,024 messages (16 KiB and up: 1 GiB a run); the
#                 window is cut to keep at most BENCH_INFLIGHT_BYTES (64 MiB)
#                 of bodies in flight (256 KiB: 256, 1 MiB: 64), the same
#                 window for every client: librmq's default bound of queued
#                 output per connection (maxConnectionOutputBytes), past
#                 which it fails sends at once with QUEUE_FULL, and well
#                 below what 3 s of sendMsgTimeout can drain
# Scale workloads (BENCH_SET=scale, or by name in BENCH_WORKLOADS; not in the
# default set), 256 B bodies, one client instance per process:
#   scale-topics-1 / -100 / -1000
#                 async, 1000 in flight, messages round-robin over 1, 100 or
#                 1,000 topics BenchScale_0..BenchScale_{N-1}  100,000
#   scale-producers-1 / -4 / -16
#                 sync, 1, 4 or 16 producers (each its own group) sharing
#                 one client instance, one thread per producer
#                 50,000 / 100,000 / 150,000
# The topics are auto-created (the harness's brokers run with
# autoCreateTopicEnable, 4 queues each) by librmq sending a message to each
# queue before any client runs (once per target: fixed names, as the broker keeps
# a descriptor open per consume-queue file; 4,000 here), and every client's warm-up (at least producers x
# topics sends) goes to every topic through every producer, so route
# look-ups and topic creation stay outside the measured part. After the
# per-workload tables, a growth table lists msgs/s, CPU us per message and
# peak RSS of each client along each scale series.
# msgs/s, MB/s and CPU per message count acknowledged messages only; a run
# with failed sends says so in its table row.
#
# Environment:
#   BENCH_ROUNDS (3), BENCH_INFLIGHT_BYTES (67108864), BENCH_SCALE (1; multiplies every COUNT, at least 1),
#   BENCH_SET (default: the workloads above the scale ones; scale: the scale
#   workloads; all: both), BENCH_WORKLOADS (space-separated names from either
#   set; overrides BENCH_SET),
#   BENCH_CLIENTS (subset of "librmq java go rust cpp"; default "librmq java
#   go", rust too when cargo is installed, and cpp too when
#   BUILD/tests/bench/cpp-build/cpp-bench exists: the C++ client takes about
#   6 minutes of CPU to build, 25 of wall time on a loaded 2-core machine, so
#   it is built only when asked for),
#   BENCH_COMPRESS=1 (leave the
#   clients' default compression of bodies >= 4 KiB on), BENCH_OUT (file for
#   the raw JSON lines, kept; default a mktemp file), BENCH_RUN_TIMEOUT (s per
#   client run, 900), RMQ_RUN_ROOT (/tmp/librmq-bench), BENCH_TARGET (a running
#   single-profile harness target to reuse; default bench-p5, started on
#   BENCH_PORT_BASE, 11876, and stopped at the end), BUILD (build).
# A full run writes about 32 GB to the broker's store (removed when the
# script stops the target it started). The clients' stderr goes to
# BENCH_OUT.stderr.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${BENCH_ROUNDS:-3}
SCALE=${BENCH_SCALE:-1}
BUILD=${BUILD:-build}
export RMQ_RUN_ROOT=${RMQ_RUN_ROOT:-/tmp/librmq-bench}
H=tests/broker/harness
name=${BENCH_TARGET:-bench-p5}
cppbin=$PWD/$BUILD/tests/bench/cpp-build/cpp-bench
rustpeer=tests/bench/rust/build.sh
default_clients="librmq java go$("$rustpeer" --have-cargo && echo " rust")"
[ ! -x "$cppbin" ] || default_clients+=" cpp"
read -r -a clients <<<"${BENCH_CLIENTS:-$default_clients}"
#        name          mode   threads window batch size    count
all=("sync-1         sync   1       1000   1     256     50000"
     "sync-4         sync   4       1000   1     256     100000"
     "async-w1000    async  1       1000   1     256     200000"
     "batch-64       batch  1       1000   64    256     1000000"
     "async-64B      async  1       1000   1     64      200000"
     "async-1KiB     async  1       1000   1     1024    150000"
     "async-16KiB    async  1       1000   1     16384   64000"
     "async-256KiB   async  1       1000   1     262144  4000"
     "async-1MiB     async  1       1000   1     1048576 1024")
#        name               mode  threads window batch size count  topics producers
scale=("scale-topics-1      async 1       1000   1     256  100000 1      1"
       "scale-topics-100    async 1       1000   1     256  100000 100    1"
       "scale-topics-1000   async 1       1000   1     256  100000 1000   1"
       "scale-producers-1   sync  1       1000   1     256  50000  0      1"
       "scale-producers-4   sync  4       1000   1     256  100000 0      4"
       "scale-producers-16  sync  16      1000   1     256  150000 0      16")
case ${BENCH_SET:-default} in
  default) set=("${all[@]}") ;;
  scale) set=("${scale[@]}") ;;
  all) set=("${all[@]}" "${scale[@]}") ;;
  *) echo "peers.sh: unknown BENCH_SET '$BENCH_SET' (default scale all)" >&2; exit 2 ;;
esac
[ -z "${BENCH_WORKLOADS:-}" ] || set=("${all[@]}" "${scale[@]}")
works=()
for w in "${set[@]}"; do
  n=${w%% *}
  if [ -z "${BENCH_WORKLOADS:-}" ] || [[ " $BENCH_WORKLOADS " == *" $n "* ]]; then works+=("$w"); fi
done
[ ${#works[@]} -gt 0 ] || { echo "peers.sh: no workload matches BENCH_WORKLOADS=$BENCH_WORKLOADS" >&2; exit 2; }
for c in "${clients[@]}"; do
  case $c in librmq | java | go | rust | cpp) ;; *) echo "peers.sh: unknown client '$c' (librmq java go rust cpp)" >&2; exit 2 ;; esac
done

load() { cut -d' ' -f1-3 /proc/loadavg; }
echo "load average at start: $(load) ($(nproc) cores)"
started=0
if [ ! -f "$RMQ_RUN_ROOT/$name/env" ]; then
  "$H" start single --version 5 --name "$name" --port-base "${BENCH_PORT_BASE:-11876}" >/dev/null
  started=1
fi
cleanup() { [ $started = 1 ] && "$H" stop "$name" >/dev/null || true; }
trap cleanup EXIT
. "$RMQ_RUN_ROOT/$name/env"

# the clients, built once before any measurement
ninja -C "$BUILD" tests/bench/producer_bench >/dev/null
gobin=$PWD/$BUILD/tests/bench/go-bench
if [[ " ${clients[*]} " == *" go "* ]]; then (cd tests/bench/go && go build -o "$gobin" .) >&2; fi
if [[ " ${clients[*]} " == *" java "* ]]; then
  tests/interop/peer --version 5 build >/dev/null
  jver=$(tests/interop/peer --version 5 version | python3 -c 'import json,sys; print(json.load(sys.stdin)["clientVersion"])')
  echo "Java client $jver, $(java -version 2>&1 | head -1)"
fi
[[ " ${clients[*]} " != *" go "* ]] || echo "$(go version)"
if [[ " ${clients[*]} " == *" cpp "* ]]; then
  tests/bench/cpp/build.sh "$BUILD/tests/bench/cpp-build" >/dev/null
  echo "C++ client rocketmq-client-cpp master 7c8b7f8 (g++ $(g++ -dumpfullversion), Debian boost $(dpkg-query -W -f='${Version}' libboost-dev))"
fi
if [[ " ${clients[*]} " == *" rust "* ]]; then
  rustbin=$("$rustpeer" "$BUILD")
  echo "Rust client rocketmq-client-rust 1.0.0 (Cargo.lock), $("$rustpeer" --rustc-version)"
fi
echo "broker: $RMQ_BROKER_A (target $name), topic with 8 queues"

T=BenchPT_$$
"$H" topic "$name" "$T" --queues 8 >/dev/null
T8=$T
out=${BENCH_OUT:-$(mktemp /tmp/peers-bench.XXXXXX)}
: >"$out"
: >"$out.stderr"
nocomp=2147483647
tmo=${BENCH_RUN_TIMEOUT:-900}

run_librmq() { # mode threads window batch size count warmup topics producers
  local x=("batch=$4" "warmup=$7" "topics=$8" "producers=$9")
  [ "${BENCH_COMPRESS:-0}" = 1 ] || x+=("compressMsgBodyOverHowmuch=$nocomp")
  timeout "$tmo" "$BUILD/tests/bench/producer_bench" "$RMQ_NAMESRV" "$T" "$6" "$5" "$1" "$2" "$3" "${x[@]}"
}
run_java() {
  local x=()
  [ "${BENCH_COMPRESS:-0}" = 1 ] || x=(--compress-over "$nocomp")
  RMQ_NAMESRV=$RMQ_NAMESRV RMQ_PEER_FULL_JIT=1 RMQ_PEER_HEAP=${RMQ_PEER_HEAP:-2g} timeout "$tmo" \
    tests/interop/peer --version 5 bench-produce --topic "$T" --count "$6" --size "$5" --mode "$1" \
    --threads "$2" --window "$3" --batch "$4" --warmup "$7" --topics "$8" --producers "$9" "${x[@]}"
}
run_flags() { # BIN, then as the others: the Go and Rust peers take the same flags
  local bin=$1 x=()
  shift
  [ "${BENCH_COMPRESS:-0}" = 1 ] || x=(-compress-over "$nocomp")
  timeout "$tmo" "$bin" produce -namesrv "$RMQ_NAMESRV" -topic "$T" -count "$6" -size "$5" -mode "$1" \
    -threads "$2" -window "$3" -batch "$4" -warmup "$7" "${x[@]}" "${@:10}"
}
run_cpp() {
  local x=()
  [ "${BENCH_COMPRESS:-0}" = 1 ] || x=(-compress-over "$nocomp")
  # the client logs below $HOME only (logs/rocketmq-client)
  mkdir -p "$RMQ_RUN_ROOT/cpp-home"
  HOME=$RMQ_RUN_ROOT/cpp-home timeout "$tmo" "$cppbin" produce -namesrv "$RMQ_NAMESRV" -topic "$T" -count "$6" \
    -size "$5" -mode "$1" -threads "$2" -window "$3" -batch "$4" -warmup "$7" -topics "$8" -producers "$9" "${x[@]}"
}
run_go() { run_flags "$gobin" "$@" -topics "$8" -producers "$9"; }
run_rust() { run_flags "$rustbin" "$@" -topics "$8" -producers "$9"; }

t_all=$(date +%s)
for w in "${works[@]}"; do
  read -r wn mode th win bat size base ntop nprod <<<"$w"
  ntop=${ntop:-0} nprod=${nprod:-1}
  count=$(python3 -c "print(max(1, round($base * $SCALE)))")
  # warm-up: 2,000 sends, or about 2 MiB of bodies (at least 100 sends) for larger ones;
  # at least one per (producer, topic) pair
  warm=$(( size <= 1024 ? 2000 : (2097152 / size > 100 ? 2097152 / size : 100) ))
  [ "$warm" -ge $(( ntop * nprod )) ] || warm=$(( ntop * nprod ))
  # the topic series sends to BenchScale_0..: fixed names, so that a reused target
  # makes them once (the broker keeps a descriptor open per consume queue file)
  T=$T8
  if [ "$ntop" -gt 0 ]; then # auto-create the topics once, before any client measures
    T=BenchScale
    # 4 sends a topic, one to each of its queues: the broker makes a consume-queue file on
    # a queue's first message, a cost the first client measured would pay otherwise
    run_librmq sync 1 1 1 "$size" $(( 4 * ntop )) 0 "$ntop" 1 >>"$out.stderr" 2>&1 ||
      echo "# $wn: creating $ntop topics failed (see $out.stderr)" >&2
  fi
  cap=$(( ${BENCH_INFLIGHT_BYTES:-67108864} / size ))
  [ "$win" -le "$cap" ] || win=$(( cap > 0 ? cap : 1 ))
  order=("${clients[@]}")
  for r in $(seq 1 "$ROUNDS"); do
    echo "# $wn round $r: ${order[*]} ($count x $size B; load $(load))" >&2
    for k in "${order[@]}"; do
      t=$(date +%s.%N)
      line=$("run_$k" "$mode" "$th" "$win" "$bat" "$size" "$count" "$warm" "$ntop" "$nprod" 2>>"$out.stderr" | grep '^{.*msgsPerSec' | tail -1) || true
      secs=$(python3 -c "import time; print(round(time.time() - $t, 1))")
      if [ -z "$line" ]; then
        echo "# $wn $k: no result (exit status or timeout; see $out.stderr)" >&2
        printf '{"workload":"%s","who":"%s","round":%d,"error":true,"wallS":%s}\n' "$wn" "$k" "$r" "$secs" >>"$out"
        continue
      fi
      echo "# $wn $k: $line (${secs} s with start-up)" >&2
      printf '{"workload":"%s","who":"%s","round":%d,"wallS":%s,"r":%s}\n' "$wn" "$k" "$r" "$secs" "$line" >>"$out"
    done
    order=("${order[@]:1}" "${order[0]}")
  done
done

python3 - "$out" "${clients[@]}" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
clients = sys.argv[2:]
label = {"librmq": "librmq", "java": "Java", "go": "Go", "rust": "Rust", "cpp": "C++"}
def med(v):
    return statistics.median(v) if v else None
def f(x, d=0):
    if x is None:
        return "-"
    return f"{x:,.{d}f}"
def ratio(a, b):
    if a is None or b is None or b == 0:
        return "-"
    v = a / b
    return f"{v:.2f}x" if v >= 0.1 else f"{v:.3f}x"
meds = {}  # workload -> client -> medians, for the growth tables
for wn in dict.fromkeys(r["workload"] for r in rows):
    ws = [r for r in rows if r["workload"] == wn]
    ok = [r for r in ws if "r" in r]
    if not ok:
        print(f"\n### {wn}: no results\n")
        continue
    r0 = ok[0]["r"]
    what = {"sync": f"sync, {r0['threads']} thread(s)", "async": f"async, window {r0['window']}",
            "batch": f"sync batches of {r0['batch']}, {r0['threads']} thread(s)"}.get(r0["mode"], r0["mode"])
    if r0.get("producers", 1) > 1:
        what += f", {r0['producers']} producers on one client instance"
    if wn.startswith("scale-topics"):
        what += f", {r0['topics']:,} topic(s)"
    print(f"\n### {wn}: {what}, {r0['size']:,} B bodies, {r0['count']:,} messages a run\n")
    print("| Client | msgs/s median (min-max) | MB/s | CPU µs/msg (min-max) | p50 µs | p99 µs | p999 µs | peak RSS MiB | runs |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    m = meds[wn] = {}
    for c in clients:
        rs = [r["r"] for r in ok if r["who"] == c]
        errs = sum(1 for r in ws if r["who"] == c and "r" not in r)
        failed = sum(r.get("failed", 0) for r in rs)
        if not rs:
            print(f"| {label[c]} | - | - | - | - | - | - | - | 0 ({errs} errors) |")
            continue
        g = lambda k: [r[k] for r in rs]
        m[c] = {k: med(g(k)) for k in ("msgsPerSec", "MBps", "cpuUsPerMsg", "p50us", "p99us", "p999us", "peakRssKiB")}
        m[c]["failed"] = failed
        note = f"{len(rs)}" + (f", {errs} errors" if errs else "") + (f", {failed} failed sends" if failed else "")
        # a client that caps the window (Rust: 512) says which it used
        if rs[0].get("window") != r0["window"] and r0["mode"] == "async":
            note += f", window {rs[0]['window']}"
        x = m[c]
        print(f"| {label[c]} | {f(x['msgsPerSec'])} ({f(min(g('msgsPerSec')))}-{f(max(g('msgsPerSec')))}) "
              f"| {f(x['MBps'], 2)} | {f(x['cpuUsPerMsg'], 2)} ({f(min(g('cpuUsPerMsg')), 2)}-{f(max(g('cpuUsPerMsg')), 2)}) "
              f"| {f(x['p50us'])} | {f(x['p99us'])} | {f(x['p999us'])} | {f(x['peakRssKiB'] / 1024, 1)} | {note} |")
    if "librmq" in m:
        c = m["librmq"]
        for p in clients:
            if p == "librmq" or p not in m:
                continue
            q = m[p]
            print(f"| librmq / {label[p]} | {ratio(c['msgsPerSec'], q['msgsPerSec'])} | {ratio(c['MBps'], q['MBps'])} "
                  f"| {ratio(c['cpuUsPerMsg'], q['cpuUsPerMsg'])} | {ratio(c['p50us'], q['p50us'])} "
                  f"| {ratio(c['p99us'], q['p99us'])} | {ratio(c['p999us'], q['p999us'])} "
                  f"| {ratio(c['peakRssKiB'], q['peakRssKiB'])} | |")
# growth along each scale series (scale-topics-*, scale-producers-*): per client
# and workload the medians of msgs/s, CPU us per message and peak RSS
series = {}
for wn in meds:
    if wn.startswith("scale-"):
        series.setdefault(wn.rsplit("-", 1)[0], []).append(wn)
for name, wns in series.items():
    print(f"\n### {name}: growth (medians: msgs/s, CPU µs/msg, peak RSS MiB)\n")
    print("| Client | " + " | ".join(wns) + " |")
    print("| --- |" + " --- |" * len(wns))
    for c in clients:
        cells = [f"{f(meds[w][c]['msgsPerSec'])}, {f(meds[w][c]['cpuUsPerMsg'], 2)}, "
                 f"{f(meds[w][c]['peakRssKiB'] / 1024, 1)}"
                 + (f" ({meds[w][c]['failed']} failed sends)" if meds[w][c]["failed"] else "")
                 if c in meds[w] else "-" for w in wns]
        print(f"| {label[c]} | " + " | ".join(cells) + " |")
PY
echo
echo "load average at end: $(load); $(( $(date +%s) - t_all )) s of runs; raw JSON lines in $out, clients' stderr in $out.stderr"
