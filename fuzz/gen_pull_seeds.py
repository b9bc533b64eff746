#!/usr/bin/env python3
"""Writes fuzz/corpus/pull/: PULL_MESSAGE responses (whole frames) whose
bodies are the stored-message vectors the Java library wrote
(tests/vectors/<version>/stored_*.bin) and the batch vectors wrapped in a
5.x inner-batch record (plain and zlib), in JSON and ROCKETMQ headers, plus
the three answers without a body. Run from the repository root."""
import glob, json, os, struct, zlib

OUT = "fuzz/corpus/pull"
EXT = {"maxOffset": "10", "minOffset": "0", "nextBeginOffset": "5",
       "suggestWhichBrokerId": "0"}


def json_frame(code, body):
    h = json.dumps({"code": code, "extFields": EXT, "flag": 1,
                    "language": "JAVA", "opaque": 7,
                    "serializeTypeCurrentRPC": "JSON", "version": 399},
                   separators=(",", ":")).encode()
    return struct.pack(">II", 4 + len(h) + len(body), len(h)) + h + body


def rocketmq_frame(code, body):
    ext = b"".join(struct.pack(">H", len(k)) + k.encode() +
                   struct.pack(">I", len(v)) + v.encode()
                   for k, v in EXT.items())
    h = struct.pack(">hBhiiI", code, 0, 399, 7, 1, 0) + \
        struct.pack(">I", len(ext)) + ext
    return struct.pack(">II", 4 + len(h) + len(body), 1 << 24 | len(h)) + \
        h + body


def record(body, sys_flag, offset=0):
    """A stored record (magic v1, IPv4 hosts) of topic TopicP."""
    topic, props = b"TopicP", b"TAGS\x01TagA\x02"
    crc = zlib.crc32(body) & 0x7FFFFFFF
    r = struct.pack(">iIiiqqiq8sq8siqI", -626843481, crc, 0, 0, offset, 4096,
                    sys_flag, 1700000000000, b"\x7f\0\0\x01\0\0\xd4\x31",
                    1700000000005, b"\x7f\0\0\x01\0\0\x2a\x9f", 0, 0,
                    len(body))
    r += body + bytes([len(topic)]) + topic + struct.pack(">H", len(props))
    r += props
    return struct.pack(">I", 4 + len(r)) + r


def main():
    os.makedirs(OUT, exist_ok=True)
    bodies = {}
    for path in sorted(glob.glob("tests/vectors/*/stored_*.bin")):
        ver = path.split("/")[2].replace(".", "")
        name = os.path.basename(path)[:-4]
        bodies["v%s_%s" % (ver, name)] = open(path, "rb").read()
    for path in sorted(glob.glob("tests/vectors/5.*/batch_*.bin")):
        entries = open(path, "rb").read()
        name = os.path.basename(path)[:-4]
        bodies["inner_" + name] = record(entries, 0xC0)
        bodies["inner_zlib_" + name] = record(zlib.compress(entries), 0xC1)
    bodies["zlib_and_plain"] = record(zlib.compress(b"z" * 5000), 0x1, 1) + \
        record(b"plain", 0, 2)
    for name, body in bodies.items():
        open(os.path.join(OUT, name + "_json"), "wb").write(
            json_frame(0, body))
    for name in ("v540_stored_three_ipv4", "inner_batch_three",
                 "inner_zlib_batch_three"):
        if name in bodies:
            open(os.path.join(OUT, name + "_rocketmq"), "wb").write(
                rocketmq_frame(0, bodies[name]))
    for code, name in ((19, "no_new_msg"), (20, "retry"), (21, "moved")):
        open(os.path.join(OUT, name), "wb").write(json_frame(code, b""))


if __name__ == "__main__":
    main()
