#!/usr/bin/env python3
"""Writes fuzz/corpus/mock/: sessions of client requests to the mock
cluster (fuzz/fuzz_mock.c's chunk format: a server byte, 0 the name server
and 1 or 2 a broker, a 16-bit big-endian length, the stream), as our
producer and consumers send them: routes, sends (V1, V2, batch), pulls and
lite pulls, offsets, heartbeats with subscriptions, consumer lists,
send-backs, orderly locks, a view by id; JSON and ROCKETMQ headers; and
broken ones (fields missing, bad numbers, bad bodies, a frame cut short).
Run from the repository root."""
import json, os, struct

OUT = "fuzz/corpus/mock"
opaque = [0]


def json_frame(code, ext, body=b""):
    opaque[0] += 1
    h = json.dumps({"code": code, "extFields": ext, "flag": 0,
                    "language": "CPP", "opaque": opaque[0],
                    "serializeTypeCurrentRPC": "JSON", "version": 399},
                   separators=(",", ":")).encode()
    return struct.pack(">II", 4 + len(h) + len(body), len(h)) + h + body


def rocketmq_frame(code, ext, body=b""):
    opaque[0] += 1
    e = b"".join(struct.pack(">H", len(k)) + k.encode() +
                 struct.pack(">I", len(v.encode())) + v.encode()
                 for k, v in ext.items())
    h = struct.pack(">hBhiiI", code, 6, 399, opaque[0], 0, 0) + \
        struct.pack(">I", len(e)) + e
    return struct.pack(">II", 4 + len(h) + len(body), 1 << 24 | len(h)) + \
        h + body


def chunk(srv, data):
    out = b""
    while True:  # a long stream goes in several chunks of one connection
        part, data = data[:65535], data[65535:]
        out += struct.pack(">BH", srv, len(part)) + part
        if not data:
            return out


PROPS = "TAGS\x01TagA\x02KEYS\x01k1\x02UNIQ_KEY\x017F00000100002A9F0000000000000001\x02WAIT\x01true\x02"


def send_v2(topic, qid=-1, body=b"hello", props=PROPS, code=310, sys=0):
    return {"a": "PG", "b": topic, "c": "TBW102", "d": "4", "e": str(qid),
            "f": str(sys), "g": "1700000000000", "h": "0", "i": props,
            "j": "0", "k": "false", "m": "false"}, body


def send_v1(topic):
    return {"producerGroup": "PG", "topic": topic, "defaultTopic": "TBW102",
            "defaultTopicQueueNums": "4", "queueId": "1", "sysFlag": "0",
            "bornTimestamp": "1700000000000", "flag": "0",
            "properties": PROPS, "reconsumeTimes": "0",
            "unitMode": "false", "batch": "false"}


def batch_body(n):
    out = b""
    for i in range(n):
        body = b"b%d" % i
        props = ("KEYS\x01k%d\x02UNIQ_KEY\x01U%030d\x02" % (i, i)).encode()
        total = 4 + 4 + 4 + 4 + 4 + len(body) + 2 + len(props)
        out += struct.pack(">iiiii", total, 0, 0, 0, len(body)) + body + \
            struct.pack(">h", len(props)) + props
    return out


def pull(topic, qid, off, code=11, sub="*", typ="TAG", suspend=1000):
    return {"consumerGroup": "CG", "topic": topic, "queueId": str(qid),
            "queueOffset": str(off), "maxMsgNums": "32", "sysFlag": "6",
            "commitOffset": "0", "suspendTimeoutMillis": str(suspend),
            "subscription": sub, "subVersion": "1", "expressionType": typ}


def heartbeat(topics, group="CG", typ="TAG", sub="*"):
    return json.dumps({"clientID": "127.0.0.1@1#0", "producerDataSet":
                       [{"groupName": "PG"}], "consumerDataSet": [
        {"groupName": group, "consumeType": "CONSUME_PASSIVELY",
         "messageModel": "CLUSTERING", "consumeFromWhere":
         "CONSUME_FROM_FIRST_OFFSET", "unitMode": False,
         "subscriptionDataSet": [{"topic": t, "subString": sub,
                                  "expressionType": typ, "subVersion": 1,
                                  "tagsSet": [], "codeSet": [],
                                  "classFilterMode": False}
                                 for t in topics]}]}).encode()


def lock_body(topic, queues, broker="broker-a"):
    return json.dumps({"consumerGroup": "CG", "clientId": "127.0.0.1@1#0",
                       "mqSet": [{"topic": topic, "brokerName": broker,
                                  "queueId": q} for q in queues]}).encode()


def session(frame):
    t = "TopicMock"
    ns = frame(105, {"topic": t}) + frame(106, {})
    s = b""
    ext, body = send_v2(t, 0)
    s += frame(310, ext, body)
    ext, body = send_v2(t, 1, b"x" * 300)
    s += frame(310, ext, body)
    s += frame(10, send_v1(t), b"v1 body")
    ext, _ = send_v2(t, 2)
    s += frame(320, ext, batch_body(5))
    s += frame(34, {}, heartbeat([t, "%RETRY%CG"]))
    s += frame(38, {"consumerGroup": "CG"})
    s += frame(11, pull(t, 0, 0))
    s += frame(361, pull(t, 2, 1))
    s += frame(11, pull(t, 3, 0))  # nothing there: held, then answered
    s += frame(15, {"consumerGroup": "CG", "topic": t, "queueId": "0",
                    "commitOffset": "1"})
    s += frame(14, {"consumerGroup": "CG", "topic": t, "queueId": "0",
                    "setZeroIfNotFound": "true"})
    for code in (30, 31, 32):
        s += frame(code, {"topic": t, "queueId": "0"})
    s += frame(29, {"topic": t, "queueId": "0", "timestamp": "1700000000000"})
    s += frame(36, {"group": "CG", "offset": "0", "delayLevel": "0",
                    "originMsgId": "X", "originTopic": t,
                    "maxReconsumeTimes": "1"})
    s += frame(36, {"group": "CG", "offset": "0", "delayLevel": "3",
                    "maxReconsumeTimes": "0"})
    s += frame(41, {}, lock_body(t, [0, 1, 2]))
    s += frame(42, {}, lock_body(t, [1]))
    s += frame(33, {"offset": "0"})
    s += frame(46, {}, b'{"subscriptionData":{"expressionType":"SQL92"}}')
    s += frame(35, {"clientID": "127.0.0.1@1#0", "consumerGroup": "CG"})
    s += frame(999, {})
    return chunk(0, ns) + chunk(1, s) + chunk(2, frame(11, pull(t, 0, 0)))


def main():
    os.makedirs(OUT, exist_ok=True)
    seeds = {"session_json": session(json_frame),
             "session_rocketmq": session(rocketmq_frame)}
    t = "TopicMock"
    ext, body = send_v2(t)
    del ext["b"]
    seeds["send_no_topic"] = chunk(1, json_frame(310, ext, body))
    ext, body = send_v2(t, 99999999999)
    seeds["send_bad_queue"] = chunk(1, json_frame(310, ext, body))
    ext, body = send_v2(t, 0, props="A\x01" + "b" * 40000 + "\x02")
    seeds["send_huge_props"] = chunk(1, json_frame(310, ext, body))
    ext, body = send_v2("%RETRY%CG", 0)
    seeds["send_retry_topic"] = chunk(1, json_frame(310, ext, body))
    ext, _ = send_v2(t, 0)
    bb = batch_body(3)
    seeds["batch_truncated"] = chunk(1, json_frame(320, ext, bb[:-3]))
    seeds["heartbeat_not_json"] = chunk(1, json_frame(34, {}, b"{nope"))
    seeds["heartbeat_many_subs"] = chunk(1, json_frame(
        34, {}, heartbeat(["T%d" % i for i in range(100)])))
    seeds["heartbeat_sql92"] = chunk(1, json_frame(
        34, {}, heartbeat([t], typ="SQL92", sub="a > 1")))
    seeds["lock_bad_queue"] = chunk(1, json_frame(
        41, {}, lock_body(t, [-1, 4, 70000])))
    seeds["pull_sql92"] = chunk(1, json_frame(
        11, pull(t, 0, 0, sub="a > 1", typ="SQL92")))
    seeds["pull_negative_offset"] = chunk(1, json_frame(11, pull(t, 0, -5)))
    seeds["route_bad_name"] = chunk(0, json_frame(105, {"topic": "a b/c"}))
    seeds["frame_cut"] = chunk(1, json_frame(310, *send_v2(t))[:-2])
    seeds["frame_huge_length"] = chunk(1, struct.pack(">II", 0x7fffffff, 8))
    for name, data in seeds.items():
        open(os.path.join(OUT, name), "wb").write(data)


if __name__ == "__main__":
    main()
