#!/usr/bin/env python3
"""The harness's fast path for `topic` and `group`: RocketMQ's remoting protocol spoken directly, no JVM.

Each mqadmin call is a JVM start (1-2 s on a quiet machine, 5-20 s on a loaded one); this sends the same
requests mqadmin's updateTopic, updateSubGroup and topicRoute send, in a few milliseconds. The harness calls it
and falls back to mqadmin when it exits 2. Standard library only: usable before any build.

    admin.py topic RUN_DIR TOPIC --queues N --targets ADDR,... --want broker-a,... [--order] [--await ADDR,...]
    admin.py group RUN_DIR GROUP [--broadcast] [--retry-max N] [--orderly] [--slave ADDR]

RUN_DIR is a harness run directory: its `env` gives the name server, the version, the admin account (acl runs,
every request is signed like mqadmin's AclClientRPCHook) and TLS (tls runs: the run's CA, the client certificate).
Exit status: 0 done; 1 a broker or the name server refused (its code and remark on stderr); 2 this path could
not do it (cannot connect, no answer, an answer it cannot read): the caller should run mqadmin instead; 3 the
route never listed every wanted broker (the last answer on stderr).

Ground truth (apache/rocketmq): MQClientAPIImpl.createTopic / createSubscriptionGroup / getTopicRouteInfo...,
UpdateTopicSubCommand, UpdateSubGroupSubCommand, DefaultMQAdminExtImpl.createOrUpdateOrderConf,
CommandUtil.fetchMasterAddrByClusterName, AclClientRPCHook; /work/shared/protocol/ (framing.md, requests.md,
client-behaviour.md section 15).
"""
import argparse
import json
import os
import re
import socket
import struct
import sys
import time

UPDATE_AND_CREATE_TOPIC = 17
PUT_KV_CONFIG = 100
GET_KV_CONFIG = 101
GET_ALL_TOPIC_CONFIG = 21
GET_ROUTEINFO_BY_TOPIC = 105
GET_BROKER_CLUSTER_INFO = 106
UPDATE_AND_CREATE_SUBSCRIPTIONGROUP = 200
SUCCESS = 0
ORDER_TOPIC_CONFIG = "ORDER_TOPIC_CONFIG"  # NamesrvUtil.NAMESPACE_ORDER_TOPIC_CONFIG
# 475 = V5_3_1: standard JSON routes from 4.9.4+ name servers (>= 401) and never GO_AWAY (> 475)
# from a 5.x server shutting down (framing.md section 7).
VERSION = 475
# A loaded machine (CI) may keep a JVM from answering for seconds: wait long rather than fall back.
CONNECT_TIMEOUT, REQUEST_TIMEOUT = 5.0, 15.0
ROUTE_WAIT = 120.0


class Unusable(Exception):
    """This path cannot do it (exit 2: the caller falls back to mqadmin)."""


class Refused(Exception):
    """A server answered with an error (exit 1)."""


def read_env(run):
    env = {}
    with open(os.path.join(run, "env"), encoding="utf-8") as f:
        for line in f:
            k, sep, v = line.rstrip("\n").partition("=")
            if sep:
                env[k] = v
    return env


def loose_json(data):
    """fastjson writes integer map keys bare ({0:"host:port"}): cluster info always, routes from old servers."""
    text = data.decode("utf-8")
    try:
        return json.loads(text)
    except ValueError:
        return json.loads(re.sub(r'([{,])(-?\d+):', r'\1"\2":', text))


def java_hash(s):
    """Java's String.hashCode (UTF-16 code units), as a signed 32-bit int."""
    h = 0
    b = s.encode("utf-16-be")
    for i in range(0, len(b), 2):
        h = (31 * h + (b[i] << 8 | b[i + 1])) & 0xFFFFFFFF
    return h - (1 << 32) if h & 0x80000000 else h


def java_hashmap_order(keys):
    """Iteration order of a java.util.HashMap of a few keys (16 buckets) filled in the given order."""
    def bucket(k):
        h = java_hash(k) & 0xFFFFFFFF
        return (h ^ (h >> 16)) & 15
    return sorted(keys, key=lambda k: (bucket(k), keys.index(k)))


class Conn:
    """One connection to one server; requests one at a time, answers matched by opaque."""

    def __init__(self, addr, env):
        host, _, port = addr.rpartition(":")
        self.addr = addr
        try:
            sock = socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT)
        except OSError as e:
            raise Unusable("cannot connect to %s: %s" % (addr, e))
        if env.get("RMQ_TLS") == "1":
            import ssl  # only here: the import alone costs more than a plaintext request

            ctx = ssl.create_default_context(cafile=env["RMQ_TLS_CA"])
            # the run's servers ask for it under RMQ_TLS_CLIENT_AUTH=optional|require; unasked it is not sent
            if env.get("RMQ_TLS_CLIENT_CERT") and env.get("RMQ_TLS_CLIENT_AUTH", "none") != "none":
                ctx.load_cert_chain(env["RMQ_TLS_CLIENT_CERT"], env["RMQ_TLS_CLIENT_KEY"])
            try:
                sock = ctx.wrap_socket(sock, server_hostname=host)
            except OSError as e:
                sock.close()
                raise Unusable("TLS to %s: %s" % (addr, e))
        sock.settimeout(REQUEST_TIMEOUT)
        self.sock = sock
        self.opaque = 0
        self.ak = env.get("RMQ_ACL_ADMIN_AK")
        self.sk = env.get("RMQ_ACL_ADMIN_SK")

    def close(self):
        self.sock.close()

    def sign(self, ext, body):
        """AclClientRPCHook: HMAC-SHA1 over the values of every ext field sorted by key, then the body."""
        import base64
        import hashlib
        import hmac

        ext["AccessKey"] = self.ak
        data = b"".join(ext[k].encode("utf-8") for k in sorted(ext)) + body
        mac = hmac.new(self.sk.encode("utf-8"), data, hashlib.sha1).digest()
        ext["Signature"] = base64.b64encode(mac).decode("ascii")

    def request(self, code, ext=None, body=b""):
        """Send one request; returns (code, remark, extFields, body) of its answer."""
        ext = {k: str(v) for k, v in (ext or {}).items()}
        if self.ak and self.sk:
            self.sign(ext, body)
        self.opaque += 1
        header = json.dumps({"code": code, "extFields": ext, "flag": 0, "language": "JAVA",
                             "opaque": self.opaque, "serializeTypeCurrentRPC": "JSON", "version": VERSION},
                            ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        frame = struct.pack(">II", 4 + len(header) + len(body), len(header)) + header + body
        try:
            self.sock.sendall(frame)
            while True:
                c = self.read_frame()
                if c[4] & 1 and c[3] == self.opaque:
                    return c[0], c[1], c[2], c[5]
                # a request from the server, or an answer to another opaque: not ours
        except OSError as e:  # ssl.SSLError is one
            raise Unusable("request %d to %s: %s" % (code, self.addr, e or "timed out"))

    def read_exact(self, n):
        buf = b""
        while len(buf) < n:
            part = self.sock.recv(n - len(buf))
            if not part:
                raise Unusable("%s closed the connection" % self.addr)
            buf += part
        return buf

    def read_frame(self):
        """(code, remark, extFields, opaque, flag, body) of the next frame, JSON or ROCKETMQ header."""
        total, info = struct.unpack(">II", self.read_exact(8))
        hlen = info & 0xFFFFFF
        if total < 4 + hlen or total > 16 << 20:
            raise Unusable("%s: bad frame (length %d, header %d)" % (self.addr, total, hlen))
        header = self.read_exact(hlen)
        body = self.read_exact(total - 4 - hlen)
        if info >> 24 == 0:
            h = json.loads(header.decode("utf-8"))
            return (h.get("code", 0), h.get("remark"), h.get("extFields") or {}, h.get("opaque"),
                    h.get("flag", 0), body)
        if info >> 24 != 1:
            raise Unusable("%s: unknown serialize type %d" % (self.addr, info >> 24))
        code, _, _, opaque, flag, rlen = struct.unpack(">hBhiii", header[:17])
        remark = header[17:17 + rlen].decode("utf-8") or None
        pos = 17 + rlen
        (elen,) = struct.unpack(">i", header[pos:pos + 4])
        pos += 4
        ext, end = {}, pos + elen
        while pos < end:
            (kl,) = struct.unpack(">h", header[pos:pos + 2])
            k = header[pos + 2:pos + 2 + kl].decode("utf-8")
            pos += 2 + kl
            (vl,) = struct.unpack(">i", header[pos:pos + 4])
            ext[k] = header[pos + 4:pos + 4 + vl].decode("utf-8")
            pos += 4 + vl
        return code, remark, ext, opaque, flag, body


def call(env, addr, code, ext=None, body=b"", what="request"):
    """One request on a fresh connection; a refusal raises Refused with the server's code and remark."""
    conn = Conn(addr, env)
    try:
        rc, remark, rext, rbody = conn.request(code, ext, body)
    finally:
        conn.close()
    if rc != SUCCESS:
        raise Refused("%s: %s answered code %d: %s" % (what, addr, rc, remark))
    return rext, rbody


def create_topic(env, addr, topic, queues, order):
    """UpdateTopicSubCommand -b: TopicConfig(r=w=queues, perm RW, SINGLE_TAG, sysFlag 0), defaultTopic TBW102."""
    ext = {"topic": topic, "defaultTopic": "TBW102", "readQueueNums": queues, "writeQueueNums": queues,
           "perm": 6, "topicFilterType": "SINGLE_TAG", "topicSysFlag": 0, "order": str(order).lower()}
    if not env["RMQ_VERSION"].startswith("4."):
        # 5.x's CreateTopicRequestHeader: AttributeParser.parseToString of no attributes is "", force false
        ext.update(attributes="", force="false")
    call(env, addr, UPDATE_AND_CREATE_TOPIC, ext, what="create topic %s" % topic)


def put_order_conf(env, topic, broker, queues):
    """createOrUpdateOrderConf(topic, "broker:queues", false): merge into the name server's ORDER_TOPIC_CONFIG."""
    ns = env["RMQ_NAMESRV"]
    conn = Conn(ns, env)
    try:
        rc, remark, rext, _ = conn.request(GET_KV_CONFIG, {"namespace": ORDER_TOPIC_CONFIG, "key": topic})
    finally:
        conn.close()
    confs = {}
    if rc == SUCCESS and rext.get("value", "").strip():
        for c in rext["value"].split(";"):
            confs[c.split(":")[0]] = c
    # mqadmin ignores a failed read (QUERY_NOT_FOUND for a new topic) and writes its own entry alone
    confs[broker] = "%s:%d" % (broker, queues)
    value = ";".join(confs[k] for k in java_hashmap_order(list(confs)))
    call(env, ns, PUT_KV_CONFIG, {"namespace": ORDER_TOPIC_CONFIG, "key": topic, "value": value},
         what="order conf of %s" % topic)


def route_brokers(env, topic):
    """Broker names of the topic's route at the name server (empty while it has none); the route as text."""
    conn = Conn(env["RMQ_NAMESRV"], env)
    try:
        rc, remark, _, body = conn.request(GET_ROUTEINFO_BY_TOPIC, {"topic": topic})
    finally:
        conn.close()
    if rc != SUCCESS:  # TOPIC_NOT_EXIST (17) until a broker registered it
        return set(), "code %d: %s" % (rc, remark)
    route = loose_json(body)
    return {b.get("brokerName") for b in route.get("brokerDatas") or []}, body.decode("utf-8")


def has_topic(env, addr, topic):
    """Whether the broker at @addr has @topic in its topic config table (GET_ALL_TOPIC_CONFIG)."""
    _, body = call(env, addr, GET_ALL_TOPIC_CONFIG, what="topic configs")
    return topic in (loose_json(body).get("topicConfigTable") or {})


def cmd_topic(env, a):
    names = []  # brokers, once each (a 5.x ms run creates it on broker-a's master and slave)
    for t in a.targets.split(","):
        addr, _, name = t.partition("=")
        create_topic(env, addr, a.topic, a.queues, a.order)
        if name not in names:
            names.append(name)
    if a.order:
        # UpdateTopicSubCommand -b -o true puts "<brokerName>:<writeQueueNums>" once per broker
        for name in names:
            put_order_conf(env, a.topic, name, a.queues)
    # Wait until the name server serves the route with every wanted broker (they register it at once).
    want = set(a.want.split(","))
    deadline = time.monotonic() + ROUTE_WAIT
    while True:
        have, text = route_brokers(env, a.topic)
        if want <= have:
            break
        if time.monotonic() > deadline:
            print(text, file=sys.stderr)
            return 3
        time.sleep(0.05)
    # A 4.x slave cannot be given the topic: it copies its master's topics every 10 s
    # (SlaveSynchronize). Until then it answers a pull for the topic TOPIC_NOT_EXIST, so a master
    # killed in the meantime leaves the topic unreadable: wait for the copy.
    for addr in filter(None, (a.wait_for or "").split(",")):
        while not has_topic(env, addr, a.topic):
            if time.monotonic() > deadline:
                print("admin.py: %s never copied topic %s from its master" % (addr, a.topic), file=sys.stderr)
                return 3
            time.sleep(0.2)
    return 0


def master_addrs(env, cluster):
    """CommandUtil.fetchMasterAddrByClusterName: brokerId 0 of every broker of the cluster."""
    _, body = call(env, env["RMQ_NAMESRV"], GET_BROKER_CLUSTER_INFO, what="cluster info")
    info = loose_json(body)
    addrs = []
    for name in sorted((info.get("clusterAddrTable") or {}).get(cluster) or []):
        a = ((info.get("brokerAddrTable") or {}).get(name) or {}).get("brokerAddrs", {}).get("0")
        if a:
            addrs.append(a)
    if not addrs:
        raise Refused("cluster %s has no master at %s" % (cluster, env["RMQ_NAMESRV"]))
    return addrs


def group_config(env, a):
    """UpdateSubGroupSubCommand's SubscriptionGroupConfig, as fastjson writes it (getters, sorted)."""
    c = {"brokerId": 0, "consumeBroadcastEnable": a.broadcast, "consumeEnable": True,
         "consumeFromMinEnable": False, "groupName": a.group, "notifyConsumerIdsChangedEnable": True,
         "retryMaxTimes": 16 if a.retry_max is None else a.retry_max, "retryQueueNums": 1,
         "whichBrokerWhenConsumeSlowly": 1}
    if not env["RMQ_VERSION"].startswith("4."):
        c.update(attributes={}, consumeMessageOrderly=a.orderly, consumeTimeoutMinute=15,
                 groupRetryPolicy={"type": "CUSTOMIZED"}, groupSysFlag=0)
    return json.dumps(c, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def cmd_group(env, a):
    body = group_config(env, a)
    addrs = master_addrs(env, env.get("RMQ_CLUSTER", "DefaultCluster"))
    if a.slave:
        addrs.append(a.slave)
    for addr in addrs:
        call(env, addr, UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, body=body, what="create group %s" % a.group)
    return 0


def main():
    p = argparse.ArgumentParser(prog="admin.py")
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("topic")
    t.add_argument("run")
    t.add_argument("topic")
    t.add_argument("--queues", type=int, default=4)
    t.add_argument("--targets", required=True, help="addr=brokerName,... to create the topic on")
    t.add_argument("--want", required=True, help="broker names the route must list")
    t.add_argument("--order", action="store_true")
    t.add_argument("--await", dest="wait_for", help="slaves (4.x) to wait for until they copied the topic")
    g = sub.add_parser("group")
    g.add_argument("run")
    g.add_argument("group")
    g.add_argument("--broadcast", action="store_true")
    g.add_argument("--retry-max", type=int)
    g.add_argument("--orderly", action="store_true")
    g.add_argument("--slave", help="also create it on this slave (5.x ms runs)")
    a = p.parse_args()
    try:
        env = read_env(a.run)
        return cmd_topic(env, a) if a.cmd == "topic" else cmd_group(env, a)
    except Refused as e:
        print("admin.py: %s" % e, file=sys.stderr)
        return 1
    except Exception as e:  # Unusable, or anything unforeseen: mqadmin can still do it
        print("admin.py: %s: falling back to mqadmin" % (str(e) or type(e).__name__), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
