#!/usr/bin/env bash
# Self-test of the Java interop peer against a running NameServer + Broker.
#
#   RMQ_NAMESRV=127.0.0.1:9876 tests/interop/selftest.sh [--version 4|5|<full>] [--no-batch] [--no-timer]
#
# --no-batch sends lines 900-999 singly: needed for a 5.x client against a 4.9 broker, where every message of a
# batch arrives with the same UNIQ_KEY (the 5.x client puts one on the batch wrapper too, and the 4.9 broker
# appends the wrapper's properties to each inner message), so the roundtrip cannot match them by msgId.
# --no-timer skips the 5.x timer check (a 4.9 broker ignores the timer properties and delivers at once).
#
# (the version also comes from RMQ_PEER_VERSION; default 4). Needs python3. The broker needs
# enablePropertyFilter=true (SQL92) and autoCreateSubscriptionGroup=true; short transactionTimeOut /
# transactionCheckInterval make it faster (it waits up to 90 s for a transaction check-back).
#
# Checks, each on fresh topics and groups:
#   roundtrip  1000 messages (tags, keys, user props, text/CJK/binary bodies, 4 KiB-1, 4 KiB and 4 KiB+1,
#              64 KiB; sync, async and batch sends) produced and consumed back, field-equal: body sha256 and
#              length, tags, keys, user properties, topic, queue, queue offset, broker, msgId, offsetMsgId;
#              bodies of 4096 bytes or more (not batched) arrive with compression sysFlag bits, others without
#   filter     tag expression 'TagA || TagB' and SQL92 'a > 5' deliver exactly the matching messages
#   delay      a delay-level-2 (5 s) message is not delivered to a running consumer before 5 s
#   timer      (5.x clients only) a delayMs=3000 message is not delivered before ~3 s (timer precision 1 s)
#   txn        commit and unknown-then-commit are delivered; rollback and unknown-then-rollback are not;
#              the unknown ones got a check-back
#   lite group two consume-lite peers in one group split 4 queues 2/2 disjointly, get the 40 messages once
#              between them, the first takes all 4 back when the second leaves; bench-consume reads 40
# PEER_SELFTEST_ONLY="lite_group filters" runs only the named checks.
# Prints progress on stderr, then "ok" on stdout (exit 0) or "FAIL: <reason>" (exit 1).
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ver=${RMQ_PEER_VERSION:-4}
while [ $# -gt 0 ]; do
  case $1 in
    --version) ver=$2; shift 2 ;;
    --version=*) ver=${1#--version=}; shift ;;
    --no-batch) export PEER_SELFTEST_NO_BATCH=1; shift ;;
    --no-timer) export PEER_SELFTEST_NO_TIMER=1; shift ;;
    *) echo "FAIL: unknown argument $1"; exit 1 ;;
  esac
done
[ -n "${RMQ_NAMESRV:-}" ] || { echo "FAIL: RMQ_NAMESRV is not set"; exit 1; }
command -v python3 >/dev/null || { echo "FAIL: python3 not found"; exit 1; }
# build first, so that a build failure is reported as such
"$here/peer" --version "$ver" build >/dev/null || { echo "FAIL: building the peer failed"; exit 1; }

exec python3 - "$here/peer" "$ver" <<'PY'
import hashlib, json, os, random, subprocess, sys, tempfile, threading, time

PEER, VER = sys.argv[1], sys.argv[2]
RUN = "%d%d" % (int(time.time()) % 100000, os.getpid() % 10000)
T0 = time.time()


def log(msg):
    sys.stderr.write("# [%6.1fs] %s\n" % (time.time() - T0, msg))
    sys.stderr.flush()


def fail(msg):
    print("FAIL: " + msg)
    sys.stdout.flush()
    sys.exit(1)


def peer(*args, spec=None, timeout=300):
    cmd = [PEER, "--version", VER] + list(args)
    try:
        p = subprocess.run(cmd, input=spec, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        fail("peer %s timed out after %d s" % (args[0], timeout))
    lines = []
    for l in p.stdout.decode("utf-8").splitlines():
        if l.strip():
            try:
                lines.append(json.loads(l))
            except ValueError:
                fail("peer %s printed a non-JSON line on stdout: %r" % (args[0], l[:200]))
    return p.returncode, lines, p.stderr.decode("utf-8", "replace")


def spec_bytes(items):
    return ("\n".join(json.dumps(m, ensure_ascii=False) for m in items) + "\n").encode("utf-8")


def create_topic(t, queues=4):
    # the Java admin call fails now and then on a loaded machine
    # (RemotingSendRequestException to the name server: CI saw it once):
    # creating a topic is idempotent, so it is tried three times
    for attempt in range(3):
        rc, out, err = peer("create-topic", "--topic", t, "--queues", str(queues))
        if rc == 0:
            return
        time.sleep(1)
    fail("create-topic %s: %s %s" % (t, out, err.strip()))


def produce(group, items, *extra, timeout=300):
    rc, out, err = peer("produce", "--group", group, "--spec", "-", *extra, spec=spec_bytes(items), timeout=timeout)
    res = {}
    for o in out:
        if "error" in o:
            fail("produce line %s: %s" % (o.get("i"), o["error"]))
        if "status" in o:
            if o["status"] not in ("SEND_OK", "ONEWAY"):
                fail("produce line %s: status %s" % (o["i"], o["status"]))
            res[o["i"]] = o
    if rc != 0:
        fail("produce exited %d: %s" % (rc, err.strip()[-500:]))
    if len(res) != len(items):
        fail("produce printed %d results for %d messages" % (len(res), len(items)))
    return res, out


def start_failed(rc, out):
    # a consumer that died before printing anything but its fatal error
    # (its client's start failed: a name-server call timed out or its
    # channel broke under CI's load) read nothing, committed nothing
    return rc == 2 and all(o.get("fatal") for o in out)


def consume(group, topic, *extra, timeout=300):
    # started again after a failed start, three times at most
    for attempt in range(3):
        rc, out, err = peer("consume", "--group", group, "--topic", topic, *extra, timeout=timeout)
        if not start_failed(rc, out):
            break
        log("consume %s: peer's start failed, attempt %d: %s"
            % (topic, attempt + 2, err.strip()[-300:]))
        time.sleep(2)   # a stalled name server (CI's load) gets a moment
    if not out or not out[-1].get("summary"):
        fail("consume %s: no summary line (rc %d): %s" % (topic, rc, err.strip()[-500:]))
    msgs = [o for o in out if not o.get("summary")]
    if out[-1]["count"] != len(msgs):
        fail("consume summary count %s != %d lines" % (out[-1]["count"], len(msgs)))
    return rc, msgs, out[-1]


def sha(b):
    return hashlib.sha256(b).hexdigest()


# ------------------------------------------------------------------ roundtrip
def roundtrip():
    rnd = random.Random(20240601)
    topic, group, cgroup = "PeerRt%s" % RUN, "PeerRtP%s" % RUN, "PeerRtC%s" % RUN
    create_topic(topic)
    items, want = [], []
    texts = ["plain text %d", "中文消息 %d 日本語テキスト 한국어", "émoji 😀 %d ∑", "line1\nline2\ttab %d \"q\""]
    for i in range(1000):
        m = {"topic": topic}
        tags = [None, "TagA", "TagB", "TagC", "tag with space"][i % 5]
        if tags:
            m["tags"] = tags
        k = i % 4
        keys = None
        if k == 1:
            m["keys"] = keys = "key%d" % i
        elif k == 2:
            m["keys"] = ["ka%d" % i, "kb%d" % i]
            keys = "ka%d kb%d" % (i, i)
        elif k == 3:
            m["keys"] = keys = "kx%d ky%d" % (i, i)
        props = {}
        for j in range(rnd.randint(0, 4)):
            name = rnd.choice(["p%d" % j, "prop_%d" % j, "名前%d" % j, "a.b-%d" % j])
            props[name] = rnd.choice(["v%d" % i, "值 %d" % i, "x=y:z;%d" % i, "%d" % rnd.randint(-5, 99999)])
        if props:
            m["props"] = props
        kind = i % 10
        if kind in (0, 1, 2):
            body = (texts[i % len(texts)] % i).encode("utf-8")
            m["body"] = body.decode("utf-8")
        elif kind in (3, 4):
            body = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 300)))
            m["bodyHex"] = body.hex()
        elif kind == 5:
            body = (("compressible 中文 %d " % i) * 400).encode("utf-8")[:4097]   # 4 KiB + 1: compressed
            m["bodyHex"] = body.hex()
        elif kind == 6:
            # 4095 / 4096 bytes: Java compresses when length >= compressMsgBodyOverHowmuch (4096)
            body = bytes((x * 7 + i) % 256 for x in range(4095 + (i // 10) % 2))
            m["bodyHex"] = body.hex()
        elif kind == 7 and i % 50 == 7:
            body = bytes(rnd.getrandbits(8) for _ in range(65536))                # 64 KiB random
            m["bodyHex"] = body.hex()
        else:
            body = ("中文 body %d " % i).encode("utf-8") * rnd.randint(1, 20)
            m["body"] = body.decode("utf-8")
        batched = 900 <= i < 1000 and kind not in (5, 6, 7) and not os.environ.get("PEER_SELFTEST_NO_BATCH")
        if batched:
            m["batch"] = "b%d" % (i // 10)
        elif 800 <= i < 900:
            m["async"] = True
        items.append(m)
        want.append({"tags": tags, "keys": keys, "props": props, "body": body, "batched": batched})
    t = time.time()
    res, _ = produce(group, items)
    log("roundtrip: produced 1000 in %.1f s (JVM included)" % (time.time() - t))
    byid = {}
    for i, r in res.items():
        if r["msgId"] in byid:
            fail("duplicate msgId %s from produce" % r["msgId"])
        byid[r["msgId"]] = i
    t = time.time()
    # until quiet: 2 s without a message after the 1000th, so a duplicate is seen
    rc, msgs, summ = consume(cgroup, topic, "--count", "1000", "--quiet-ms", "2000", "--timeout-ms", "120000")
    log("roundtrip: consumed %d in %.1f s (JVM included; first message %s ms after JVM start)"
        % (len(msgs), time.time() - t, summ.get("firstMessageUptimeMs")))
    if rc != 0 or len(msgs) != 1000:
        fail("roundtrip: consumed %d of 1000 (%s)" % (len(msgs), summ.get("reason")))
    seen = set()
    compressed = 0
    for c in msgs:
        i = byid.get(c["msgId"])
        if i is None:
            fail("roundtrip: consumed unknown msgId %s" % c["msgId"])
        if i in seen:
            fail("roundtrip: message %d delivered twice" % i)
        seen.add(i)
        w, r = want[i], res[i]
        checks = [
            ("topic", c["topic"], topic),
            ("tags", c["tags"], w["tags"]),
            ("keys", c["keys"], w["keys"]),
            ("userProps", c["userProps"], w["props"]),
            ("bodyLen", c["bodyLen"], len(w["body"])),
            ("bodySha256", c["bodySha256"], sha(w["body"])),
            ("bodyHex", c["bodyHex"], w["body"].hex()),
            ("queueId", c["queueId"], r["queueId"]),
            ("queueOffset", c["queueOffset"], r["queueOffset"]),
            ("brokerName", c["brokerName"], r["brokerName"]),
            ("offsetMsgId", c["offsetMsgId"], r["offsetMsgId"]),
            ("reconsumeTimes", c["reconsumeTimes"], 0),
            ("delayLevel", c["delayLevel"], 0),
        ]
        for name, got, exp in checks:
            if got != exp:
                fail("roundtrip: message %d field %s: got %r, sent %r" % (i, name, got, exp))
        try:
            text = w["body"].decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if c["bodyText"] != text:
            fail("roundtrip: message %d bodyText %r != %r" % (i, c["bodyText"], text))
        want_comp = len(w["body"]) >= 4096 and not w["batched"]
        # 4.9 clients keep sysFlag bit 0 (COMPRESSED) after inflating, 5.x clear it; both keep the
        # compression-type bits 8..10 (0x300 = zlib)
        if bool(c["sysFlag"] & 0x701) != want_comp:
            fail("roundtrip: message %d (%d bytes) sysFlag %d, compressed bit should be %s"
                 % (i, len(w["body"]), c["sysFlag"], want_comp))
        compressed += want_comp
        if not c["bornHost"] or not c["storeHost"] or c["storeTimestamp"] <= 0 or c["commitLogOffset"] < 0:
            fail("roundtrip: message %d host/timestamp fields missing: %r" % (i, c))
    log("roundtrip: 1000/1000 field-equal (%d compressed bodies)" % compressed)


# ------------------------------------------------------------------- filters
def filters():
    topic = "PeerFl%s" % RUN
    create_topic(topic)
    items = []
    for i in range(60):
        m = {"topic": topic, "body": "f%d" % i}
        tag = [None, "TagA", "TagB", "TagC"][i % 4]
        if tag:
            m["tags"] = tag
        if i % 5 != 0:
            m["props"] = {"a": str(i % 10), "color": ["red", "blue"][i % 2]}
        items.append(m)
    res, _ = produce("PeerFlP%s" % RUN, items)
    want_tag = {res[i]["msgId"] for i, m in enumerate(items) if m.get("tags") in ("TagA", "TagB")}
    want_sql = {res[i]["msgId"] for i, m in enumerate(items) if "props" in m and int(m["props"]["a"]) > 5}
    for name, args, want in (("tag", ["--tag-expr", "TagA || TagB"], want_tag),
                             ("sql", ["--sql", "a > 5"], want_sql),
                             ("sql2", ["--sql", "color = 'blue' AND a BETWEEN 3 AND 7"],
                              {res[i]["msgId"] for i, m in enumerate(items) if "props" in m
                               and m["props"]["color"] == "blue" and 3 <= int(m["props"]["a"]) <= 7})):
        rc, msgs, summ = consume("PeerFl%sC%s" % (name, RUN), topic, *args, "--idle-ms", "6000",
                                 "--timeout-ms", "60000")
        got = [c["msgId"] for c in msgs]
        if len(got) != len(set(got)) or set(got) != want:
            fail("filter %s %s: got %d messages, want %d (extra %s, missing %s)"
                 % (name, args, len(got), len(want), sorted(set(got) - want)[:5], sorted(want - set(got))[:5]))
        log("filter %s: exactly the %d matching of 60" % (" ".join(args), len(want)))


# --------------------------------------------------------------- delay/timer
def delayed(name, spec_extra, min_ms, max_ms=40000):
    topic = "PeerDl%s%s" % (name, RUN)
    create_topic(topic, 2)
    for attempt in range(3):
        cons = subprocess.Popen([PEER, "--version", VER, "consume", "--group", "PeerDl%sC%s" % (name, RUN),
                                 "--topic", topic, "--count", "1", "--quiet-ms", "2000",
                                 "--timeout-ms", str(max_ms + 10000)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(3)   # let the consumer start and rebalance before the message exists
        if cons.poll() is None:
            break
        out, err = cons.communicate()
        lines = [json.loads(l) for l in out.decode("utf-8").splitlines() if l.strip()]
        if not start_failed(cons.returncode, lines) or attempt == 2:
            fail("%s: consumer exited %d before the message was sent: %s" % (
                name, cons.returncode, err.decode("utf-8", "replace")[-400:]))
        log("%s: consumer's start failed, attempt %d: %s" % (name, attempt + 2, json.dumps(lines)[:300]))
    m = {"topic": topic, "body": "delayed " + name}
    m.update(spec_extra)
    t_send = int(time.time() * 1000)
    res, _ = produce("PeerDl%sP%s" % (name, RUN), [m])
    for attempt in range(3):
        out, err = cons.communicate(timeout=max_ms + 60)
        lines = [json.loads(l) for l in out.decode("utf-8").splitlines() if l.strip()]
        if not start_failed(cons.returncode, lines) or attempt == 2:
            break
        # its start failed after the send (a JVM slower than the 3 s above): a new member of the group
        # reads from the first offset; what the check measures is the message's time, not the consumer's
        log("%s: consumer's start failed after the send, attempt %d: %s" % (name, attempt + 2,
                                                                           json.dumps(lines)[:300]))
        cons = subprocess.Popen([PEER, "--version", VER, "consume", "--group", "PeerDl%sC%s" % (name, RUN),
                                 "--topic", topic, "--count", "1", "--quiet-ms", "2000",
                                 "--timeout-ms", str(max_ms + 10000)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    msgs = [o for o in lines if not o.get("summary")]
    if len(msgs) != 1 or "receivedMs" not in msgs[0]:
        fail("%s: consumer printed %s (rc %d), stderr: %s" % (name, json.dumps(msgs)[:400], cons.returncode,
                                                             err.decode("utf-8", "replace")[-400:]))
    c = msgs[0]
    waited = c["receivedMs"] - c["bornTimestamp"]
    if waited < min_ms or waited > max_ms:
        fail("%s: delivered %d ms after it was sent, expected %d..%d ms" % (name, waited, min_ms, max_ms))
    if c["msgId"] != res[0]["msgId"]:
        fail("%s: msgId %s != sent %s" % (name, c["msgId"], res[0]["msgId"]))
    log("%s: delivered %d ms after send (not before %d ms)" % (name, waited, min_ms))
    return c


# -------------------------------------------------------------- transactions
def transactions():
    topic = "PeerTx%s" % RUN
    create_topic(topic, 2)
    items = [{"topic": topic, "body": b, "transaction": t} for b, t in
             (("tx-commit", "commit"), ("tx-rollback", "rollback"), ("tx-unknown-commit", "unknown-then-commit"),
              ("tx-unknown-rollback", "unknown-then-rollback"), ("tx-commit-2", "commit"))]
    t = time.time()
    res, out = produce("PeerTxP%s" % RUN, items, "--tx-wait-ms", "90000", timeout=200)
    checked = {o["i"] for o in out if "checkBack" in o}
    if not {2, 3} <= checked:
        fail("txn: no check-back for the unknown transactions (got %s)" % sorted(checked))
    log("txn: produced, check-backs for %s after %.1f s" % (sorted(checked), time.time() - t))
    states = [res[i].get("localTxState") for i in range(5)]
    if states != ["COMMIT_MESSAGE", "ROLLBACK_MESSAGE", "UNKNOW", "UNKNOW", "COMMIT_MESSAGE"]:
        fail("txn: local transaction states %s" % states)
    rc, msgs, summ = consume("PeerTxC%s" % RUN, topic, "--idle-ms", "8000", "--timeout-ms", "60000")
    got = sorted(c["bodyText"] for c in msgs)
    if got != ["tx-commit", "tx-commit-2", "tx-unknown-commit"]:
        fail("txn: delivered %s, want commit, commit-2 and unknown-then-commit only" % got)
    for c in msgs:
        if c["props"].get("TRAN_MSG") != "true":
            fail("txn: delivered message without TRAN_MSG=true: %s" % c["props"])
    log("txn: commit x2 and unknown-then-commit delivered; rollback and unknown-then-rollback not")


# ------------------------------------------------------------ lite group split
def lite_group():
    """consume-lite: two peers in one group split the queues (averagely: 0,1 / 2,3) and together get every
    message once; the first takes all queues back when the second leaves; bench-consume reads the topic."""
    topic, group = "PeerLg%s" % RUN, "PeerLgC%s" % RUN
    create_topic(topic, 4)
    stop = "/tmp/peer-selftest-stop-%s" % RUN
    base = [PEER, "--version", VER, "consume-lite", "--group", group, "--topic", topic, "--timeout-ms", "240000"]
    # each peer's lines as they come (a thread per pipe): the steps below wait for what the peers print, not
    # for a fixed time (a Java lite consumer whose first rebalance missed itself waits 20 s for the next one)
    got_lines = {"A": [], "B": []}
    def reader(name, proc):
        for raw in proc.stdout:
            if raw.strip():
                got_lines[name].append(json.loads(raw.decode("utf-8")))
    def last_asg(name):
        a_ = [o["assignment"] for o in list(got_lines[name]) if "assignment" in o]
        return {(q["broker"], q["queueId"]) for q in a_[-1]} if a_ else None
    def wait_for(what, cond, secs=60):
        end = time.time() + secs
        while not cond():
            if time.time() > end:
                fail("lite group: %s not within %d s: A %s, B %s" % (what, secs, got_lines["A"][-5:], got_lines["B"][-5:]))
            time.sleep(0.1)
    err_f = {n: tempfile.TemporaryFile() for n in ("A", "B")}   # a pipe nobody reads could fill and block
    a = subprocess.Popen(base + ["--stop-file", stop, "--instance", "lgA%s" % RUN],
                         stdout=subprocess.PIPE, stderr=err_f["A"])
    ta = threading.Thread(target=reader, args=("A", a), daemon=True)
    ta.start()
    wait_for("A's 4 queues", lambda: last_asg("A") is not None and len(last_asg("A")) == 4)
    b = subprocess.Popen(base + ["--stdin-eof", "--instance", "lgB%s" % RUN], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=err_f["B"])
    tb = threading.Thread(target=reader, args=("B", b), daemon=True)
    tb.start()
    t_b = time.time()
    wait_for("a 2/2 split after B's start",
             lambda: last_asg("B") is not None and len(last_asg("B")) == 2 and last_asg("A") is not None
             and len(last_asg("A")) == 2 and not (last_asg("A") & last_asg("B")))
    log("lite group: split 2/2 %.1f s after B's start" % (time.time() - t_b))
    res, _ = produce("PeerLgP%s" % RUN, [{"topic": topic, "body": "lg%d" % i} for i in range(40)])
    want = {r["msgId"] for r in res.values()}
    seen = lambda: {o["msgId"] for l in got_lines.values() for o in list(l) if "msgId" in o}
    wait_for("the 40 messages", lambda: seen() >= want)
    b.stdin.close()   # B leaves, A takes every queue again
    b.wait(timeout=60)
    tb.join(timeout=10)
    err_f["B"].seek(0)
    err_b = err_f["B"].read()
    wait_for("A's 4 queues after B left", lambda: len(last_asg("A")) == 4)
    open(stop, "w").close()
    a.wait(timeout=60)
    ta.join(timeout=10)
    err_f["A"].seek(0)
    err_a = err_f["A"].read()
    os.unlink(stop)
    lines = got_lines
    for name, err in (("A", err_a), ("B", err_b)):
        if not lines[name] or not lines[name][-1].get("summary"):
            fail("lite group: consumer %s printed no summary: %s" % (name, err.decode("utf-8", "replace")[-300:]))
    qset = lambda o: {(q["broker"], q["queueId"]) for q in o["assignment"]}
    asg = {n: [qset(o) for o in l if "assignment" in o] for n, l in lines.items()}
    if not asg["B"] or not asg["A"]:
        fail("lite group: no assignment lines: %s" % asg)
    a_split = [x for x in asg["A"] if x and len(x) < 4]
    if not a_split or len(asg["B"][-1]) != 2 or a_split[-1] & asg["B"][-1] or len(a_split[-1] | asg["B"][-1]) != 4:
        fail("lite group: queues not split 2/2 disjointly: A %s, B %s" % (asg["A"], asg["B"]))
    if len(asg["A"][-1]) != 4:
        fail("lite group: A did not take the 4 queues back after B left: %s" % asg["A"])
    got = [o["msgId"] for l in lines.values() for o in l if "msgId" in o]
    want = {r["msgId"] for r in res.values()}
    if sorted(got) != sorted(want):
        fail("lite group: got %d messages (%d distinct), want the 40 sent once each" % (len(got), len(set(got))))
    for name, l in lines.items():
        for o in l:
            if "msgId" in o and (o["brokerName"], o["queueId"]) not in set().union(*asg[name]):
                fail("lite group: %s got a message of queue %s it never held" % (name, o["queueId"]))
    log("lite group: split %s / %s, 40 messages once, A took all 4 back"
        % (sorted(q for _, q in a_split[-1]), sorted(q for _, q in asg["B"][-1])))
    rc, out, err = peer("bench-consume", "--topic", topic, "--count", "40", "--timeout-ms", "60000")
    if rc != 0 or not out or out[-1].get("count") != 40 or out[-1].get("cpuUsPerMsg", 0) <= 0:
        fail("bench-consume: rc %d, %s %s" % (rc, out, err.strip()[-300:]))
    log("bench-consume: 40 messages, %s" % out[-1])


rc, out, err = peer("version")
log("peer %s (client %s), name server %s" % (VER, out[0]["clientVersion"] if out else "?", os.environ["RMQ_NAMESRV"]))
client = out[0]["clientVersion"] if out else "?"
only = os.environ.get("PEER_SELFTEST_ONLY")   # e.g. "lite_group": run just these checks (space-separated)
if only:
    for name in only.split():
        globals()[name]()
    log("selected checks passed")
    print("ok")
    sys.exit(0)
roundtrip()
filters()
delayed("delay", {"delayLevel": 2}, 4800)
if client.startswith("5") and not os.environ.get("PEER_SELFTEST_NO_TIMER"):
    delayed("timer", {"delayMs": 3000}, 1900)
transactions()
lite_group()
log("all checks passed")
print("ok")
PY
