#!/usr/bin/env python3
"""Writes the fuzzers' seed corpus: valid MQTT 3.1.1/5.0 and STOMP 1.0/1.1/1.2 conversations, one per file.

Each file is what one client sends on one connection, CONNECT first (the gateway refuses anything
else first, so a corpus without it would only ever test that refusal). Run it again after editing;
the files are committed so the tests need no Python.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def varint(n):
    out = bytearray()
    while True:
        digit, n = n % 128, n // 128
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def s(text):
    b = text.encode() if isinstance(text, str) else text
    return struct.pack(">H", len(b)) + b


def u16(n):
    return struct.pack(">H", n)


def packet(type_flags, *parts):
    body = b"".join(parts)
    return bytes([type_flags]) + varint(len(body)) + body


def props(v, raw=b""):
    return varint(len(raw)) + raw if v == 5 else b""


def connect(v, client="fuzz", flags=0x02, extra=b"", connect_props=b""):
    return packet(0x10, s("MQTT"), bytes([v, flags]), u16(30), props(v, connect_props), s(client), extra)


USER_PROP = b"\x26" + s("k") + s("v")


def mqtt(v):
    p5 = lambda raw: props(v, raw)
    files = {}
    files["connect"] = connect(v) + packet(0xE0, b"\x00" + p5(b"") if v == 5 else b"")
    files["publish-qos0"] = connect(v) + packet(0x30, s("sensors/a"), p5(b""), b"21.5") + packet(0xC0)
    publish1_props = (b"\x01\x01" + b"\x02" + struct.pack(">I", 60) + b"\x03" + s("text/plain")
                      + b"\x08" + s("replies/a") + b"\x09" + s(b"\x01\x02") + USER_PROP + b"\x23" + u16(3)) if v == 5 else b""
    files["publish-qos1-properties"] = (connect(v) + packet(0x32, s("sensors/b"), u16(1), p5(publish1_props), b"{\"t\":1}")
                                        + packet(0x32, s("" if v == 5 else "sensors/b"), u16(2), p5(b"\x23" + u16(3)), b"again"))
    files["publish-qos2-flow"] = (connect(v) + packet(0x34, s("sensors/c"), u16(7), p5(b""), b"once")
                                  + packet(0x62, u16(7), b"\x00" + p5(b"") if v == 5 else b""))
    files["publish-retain-dup"] = connect(v) + packet(0x3B, s("state/valve"), u16(9), p5(b""), b"open")
    sub_opts = 0x01 if v == 4 else 0x2D
    files["subscribe"] = (connect(v) + packet(0x82, u16(3), p5(b"\x0b\x05" + USER_PROP if v == 5 else b""),
                                              s("sensors/+/temp"), bytes([sub_opts]), s("alarms/#"), b"\x02"))
    files["subscribe-shared"] = connect(v) + packet(0x82, u16(4), p5(b""), s("$share/g/sensors/#"), b"\x01")
    files["unsubscribe"] = (connect(v) + packet(0x82, u16(5), p5(b""), s("a/b"), b"\x00")
                            + packet(0xA2, u16(6), p5(USER_PROP if v == 5 else b""), s("a/b"), s("c/#")))
    files["ping"] = connect(v) + packet(0xC0) + packet(0xC0)
    ack_tail = lambda pid: u16(pid) + (b"\x00" + p5(b"") if v == 5 else b"")
    files["acks"] = (connect(v) + packet(0x40, ack_tail(1)) + packet(0x50, ack_tail(2))
                     + packet(0x62, ack_tail(2)) + packet(0x70, ack_tail(3)))
    will = (p5(b"\x18" + struct.pack(">I", 5) if v == 5 else b"") + s("wills/fuzz") + s(b"gone")
            + s("user") + s(b"secret"))
    files["connect-will-credentials"] = connect(v, flags=0xEE, extra=will) + packet(0x30, s("x"), p5(b""))
    if v == 5:
        files["connect-properties"] = connect(v, connect_props=b"\x11" + struct.pack(">I", 120) + b"\x21" + u16(10)
                                              + b"\x22" + u16(5) + b"\x27" + struct.pack(">I", 65536) + USER_PROP)
        files["auth"] = connect(v, connect_props=b"\x15" + s("SCRAM-SHA-1")) + packet(0xF0, b"\x18", p5(b"\x15" + s("SCRAM-SHA-1")))
        files["disconnect-reason"] = connect(v) + packet(0xE0, b"\x04", p5(b"\x11" + struct.pack(">I", 0)))
    return files


def frame(command, headers=(), body=b"", eol="\n"):
    text = command + eol + "".join(f"{k}:{v}{eol}" for k, v in headers) + eol
    return text.encode() + body + b"\x00"


def stomp():
    c12 = frame("CONNECT", [("accept-version", "1.2"), ("host", "gw"), ("heart-beat", "0,0")])
    c11 = frame("CONNECT", [("accept-version", "1.0,1.1"), ("host", "gw"), ("login", "u"), ("passcode", "p")])
    c10 = frame("CONNECT", [("login", "u"), ("passcode", "p")])
    return {
        "connect-1.0-send": c10 + frame("SEND", [("destination", "/topic/a.b")], b"hello") + frame("DISCONNECT"),
        "connect-1.1-subscribe": c11 + frame("SUBSCRIBE", [("destination", "/topic/a.*"), ("id", "1"), ("ack", "client")])
                                 + frame("ACK", [("message-id", "s1-1"), ("subscription", "1")]) + frame("UNSUBSCRIBE", [("id", "1")]),
        "stomp-1.2-crlf": frame("STOMP", [("accept-version", "1.2"), ("host", "gw")], eol="\r\n")
                          + frame("SEND", [("destination", "/queue/q"), ("receipt", "r1")], b"x", eol="\r\n") + b"\r\n\n",
        "send-content-length-nul-body": c12 + frame("SEND", [("destination", "/topic/bin"), ("content-length", "5"), ("content-type", "application/octet-stream")], b"a\x00b\x00c"),
        "send-escapes": c12 + frame("SEND", [("destination", "/topic/esc"), ("key\\cname", "line\\nbreak\\\\back\\rcr")], b"escaped"),
        "transaction": c12 + frame("BEGIN", [("transaction", "t1")]) + frame("SEND", [("destination", "/topic/t"), ("transaction", "t1"), ("receipt", "r2")], b"in tx")
                       + frame("COMMIT", [("transaction", "t1"), ("receipt", "r3")]) + frame("BEGIN", [("transaction", "t2")]) + frame("ABORT", [("transaction", "t2")]),
        "ack-nack-1.2": c12 + frame("SUBSCRIBE", [("destination", "/topic/s"), ("id", "7"), ("ack", "client-individual")])
                        + frame("ACK", [("id", "s1-1")]) + frame("NACK", [("id", "s1-2"), ("transaction", "t9")]) + frame("DISCONNECT", [("receipt", "bye")]),
        "heartbeats": frame("CONNECT", [("accept-version", "1.2"), ("host", "gw"), ("heart-beat", "1000,1000")]) + b"\n\n\r\n" + frame("SEND", [("destination", "/topic/hb")], b"beat") + b"\n",
        "send-expires": c12 + frame("SEND", [("destination", "/topic/exp.a"), ("expires", "1893456000000"), ("priority", "4"), ("receipt", "e1")], b"expiring"),
        "subscribe-wildcards": c12 + frame("SUBSCRIBE", [("destination", "/topic/sensors.#"), ("id", "w")]) + frame("SEND", [("destination", "/topic/sensors.x")], b"to self"),
        "repeated-headers": c12 + frame("SEND", [("destination", "/topic/first"), ("destination", "/topic/second"), ("x", ""), ("content-length", "0")]),
    }


def write(folder, files):
    os.makedirs(os.path.join(HERE, folder), exist_ok=True)
    for name, data in files.items():
        with open(os.path.join(HERE, folder, name + ".bin"), "wb") as f:
            f.write(data)


for version in (4, 5):
    write("mqtt", {f"v{version}-{k}": v for k, v in mqtt(version).items()})
write("stomp", stomp())
