#!/usr/bin/env python3
"""Writes seeds that sit at the decoders' limits, one just inside and one
just past each, so that libFuzzer mutates around them (its length control
alone grows inputs far too slowly to get there in a smoke run). Run from
the repository root; fuzz/<name>.options lets the fuzzer keep them whole.

  json:   [0,0,...] of 3000 bytes (under 16x + 64 KiB) and 8 KiB (over)
  route:  1024 and 1025 queueDatas; readQueueNums 4096 and 4097
  stored, rxmsg, pull: a property string of 32767 and 32768 bytes, and a
          zlib body inflating to 64 MiB + 1 KiB (past maxInflatedBodySize)
"""
import os, struct, sys, zlib

sys.path.insert(0, os.path.dirname(__file__))
from gen_pull_seeds import json_frame, record  # noqa: E402


def put(target, name, data):
    os.makedirs("fuzz/corpus/" + target, exist_ok=True)
    open("fuzz/corpus/%s/limit_%s" % (target, name), "wb").write(data)


def route(n, reads):
    q = ",".join('{"brokerName":"b%d","perm":6,"readQueueNums":%d,'
                 '"writeQueueNums":1}' % (i, reads) for i in range(n))
    b = ",".join('{"brokerName":"b%d","brokerAddrs":{"0":"h:1"}}' % i
                 for i in range(min(n, 2)))
    return ('{"queueDatas":[%s],"brokerDatas":[%s]}' % (q, b)).encode()


def props_record(n):
    """A record whose property string is exactly n bytes."""
    p = b"TAGS\x01TagA\x02"
    i = 0
    while len(p) + 12 <= n:
        p += b"k%04x\x01vvvv\x02" % i
        i += 1
    p += b"z\x01" + b"v" * (n - len(p) - 2)
    assert len(p) == n
    rec = bytearray(record(b"body", 0))
    # record() wrote TAGS only: rebuild its tail with the long string
    tail = len(b"TAGS\x01TagA\x02") + 2
    rec = rec[:-tail] + struct.pack(">H", n) + p
    struct.pack_into(">I", rec, 0, len(rec))
    return bytes(rec)


def main():
    put("json", "tiny_values_3k", b"[" + b",".join([b"0"] * 1500) + b"]")
    put("json", "tiny_values_8k", b"[" + b",".join([b"0"] * 4096) + b"]")
    put("route", "entries_1024", route(1024, 1))
    put("route", "entries_1025", route(1025, 1))
    put("route", "queues_4096", route(1, 4096))
    put("route", "queues_4097", route(1, 4097))
    bomb = record(zlib.compress(b"\0" * ((64 << 20) + 1024), 9), 0x1)
    for name, rec in (("props_32767", props_record(32767)),
                      ("props_32768", props_record(32768)),
                      ("inflate_past_64m", bomb)):
        put("stored", name, rec)
        put("rxmsg", name, rec)
        put("pull", name, json_frame(0, rec))


if __name__ == "__main__":
    main()
