#!/usr/bin/env python3
"""Writes fuzz/corpus/reply/: PUSH_REPLY_MESSAGE_TO_CLIENT requests (whole
frames, code 326) as a 5.x or 4.9 broker's ReplyMessageProcessor sends
them: every ReplyMessageRequestHeader field, IPv4 and Java's unbracketed
IPv6 hosts, plain and zlib bodies, in JSON and ROCKETMQ headers; and a few
broken ones (no topic, a bad number, huge properties). Run from the
repository root."""
import json, os, struct, zlib

OUT = "fuzz/corpus/reply"


def json_frame(ext, body):
    h = json.dumps({"code": 326, "extFields": ext, "flag": 0,
                    "language": "JAVA", "opaque": 9,
                    "serializeTypeCurrentRPC": "JSON", "version": 399},
                   separators=(",", ":")).encode()
    return struct.pack(">II", 4 + len(h) + len(body), len(h)) + h + body


def rocketmq_frame(ext, body):
    e = b"".join(struct.pack(">H", len(k)) + k.encode() +
                 struct.pack(">I", len(v.encode())) + v.encode()
                 for k, v in ext.items())
    h = struct.pack(">hBhiiI", 326, 0, 399, 9, 0, 0) + \
        struct.pack(">I", len(e)) + e
    return struct.pack(">II", 4 + len(h) + len(body), 1 << 24 | len(h)) + \
        h + body


def header(sys_flag, born="127.0.0.1:54321", store="127.0.0.1:10911"):
    props = ("CORRELATION_ID\x01e0b1c2d3-0000-4000-8000-000000000001\x02"
             "MSG_TYPE\x01reply\x02REPLY_TO_CLIENT\x01127.0.0.1@1#2\x02"
             "TTL\x013000\x02CLUSTER\x01DefaultCluster\x02"
             "UNIQ_KEY\x017F0000010001000000000000000A\x02"
             "PUSH_REPLY_TIME\x011700000000100\x02")
    return {"producerGroup": "ReplyGroup",
            "topic": "DefaultCluster_REPLY_TOPIC", "defaultTopic": "TBW102",
            "defaultTopicQueueNums": "4", "queueId": "1",
            "sysFlag": str(sys_flag), "bornTimestamp": "1700000000000",
            "flag": "0", "properties": props, "reconsumeTimes": "0",
            "unitMode": "false", "bornHost": born, "storeHost": store,
            "storeTimestamp": "1700000000050"}


def main():
    os.makedirs(OUT, exist_ok=True)
    seeds = {
        "plain": (header(0), b"pong"),
        "zlib": (header(0x301), zlib.compress(b"r" * 6000)),
        "ipv6": (header(0, "0:0:0:0:0:0:0:1:40000", "[::1]:10911"), b"v6"),
        "no_body": (header(0), b""),
    }
    bad = header(0)
    del bad["topic"]
    seeds["no_topic"] = (bad, b"x")
    bad = header(0)
    bad["queueId"] = "99999999999"
    seeds["queue_id_out_of_range"] = (bad, b"x")
    bad = header(0x301)
    seeds["zlib_corrupt"] = (bad, b"\x78\x9c\x01\x02")
    bad = header(0)
    bad["properties"] = "A\x01" + "b" * 70000 + "\x02"
    seeds["props_too_long"] = (bad, b"x")
    for name, (ext, body) in seeds.items():
        open(os.path.join(OUT, name + "_json"), "wb").write(
            json_frame(ext, body))
        open(os.path.join(OUT, name + "_rocketmq"), "wb").write(
            rocketmq_frame(ext, body))


if __name__ == "__main__":
    main()
