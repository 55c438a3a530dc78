#!/usr/bin/python3
"""e2e_helper.py - the Python side of kiteplane's end-to-end test.

Subcommands, each run inside one namespace by e2e_test.sh:
  roundtrip     send datagrams from several client addresses to a kite and check
                that every one comes back byte for byte (JSON summary on stdout)
  capture-data  sniff one DATA frame sent by the front-end toward a connector
                and print its outer addresses and tunnel header as JSON
  forge-check   replay that frame forged three ways (unknown session, wrong
                source, bad cookie) with scapy, then prove that nothing reached
                the client the frames name (a real echo arrives first)
  json-find     print every value of a key found anywhere in a JSON document
                (or the value at a dotted path such as drops.bogon_source)
Exit status 0 means the check passed, 1 that it failed, 2 a usage error.
"""
import argparse
import json
import os
import select
import socket
import struct
import sys
import time

DATA_HDR = struct.Struct("!BBBBIIHBB16s8s")  # kp_data_hdr, cookie kept as raw bytes
KP_MAGIC, KP_VERSION, KP_MSG_DATA = 0x4B, 1, 0x01


def pattern(seq, idx, size):
    head = struct.pack("!QI", seq, idx)
    body = bytes((seq * 7 + i) & 0xFF for i in range(max(0, size - len(head))))
    return (head + body)[:size] if size >= len(head) else head[:size]


def cmd_roundtrip(a):
    host, port = a.dst.rsplit(":", 1)
    dst = (host, int(port))
    sizes = [int(s) for s in a.sizes.split(",")]
    socks = []
    for i, src in enumerate(a.src):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        s.bind((src, a.sport + i if a.sport else 0))
        s.setblocking(False)
        socks.append(s)
    pending = {}
    received = corrupt = 0
    interval = 1.0 / a.rate if a.rate > 0 else 0.0
    t0 = time.monotonic()

    def drain(wait):
        nonlocal received, corrupt
        r, _, _ = select.select(socks, [], [], wait)
        for s in r:
            while True:
                try:
                    data, _ = s.recvfrom(65536)
                except BlockingIOError:
                    break
                if len(data) < 12:
                    corrupt += 1
                    continue
                seq, _ = struct.unpack("!QI", data[:12])
                if pending.get(seq) == data:
                    del pending[seq]
                    received += 1
                else:
                    corrupt += 1

    for seq in range(a.count):
        idx = seq % len(socks)
        size = sizes[seq % len(sizes)]
        payload = pattern(seq, idx, max(size, 12))
        pending[seq] = payload
        socks[idx].sendto(payload, dst)
        if interval:
            due = t0 + (seq + 1) * interval
            while time.monotonic() < due:
                drain(max(0.0, due - time.monotonic()))
        else:
            drain(0)
    deadline = time.monotonic() + a.timeout
    while pending and time.monotonic() < deadline:
        drain(0.05)
    summary = {"sent": a.count, "received": received, "lost": len(pending),
               "corrupt": corrupt, "seconds": round(time.monotonic() - t0, 3)}
    print(json.dumps(summary))
    return 0 if not pending and not corrupt else 1


def cmd_capture(a):
    from scapy.all import sniff, IP, UDP  # noqa: imported late: slow

    print("ready", file=sys.stderr, flush=True)
    if a.ready_file:
        open(a.ready_file, "w").close()

    def is_data(p):
        if IP not in p or UDP not in p or p[IP].src != a.frontend:
            return False
        raw = bytes(p[UDP].payload)
        return len(raw) >= 40 and raw[0] == KP_MAGIC and raw[2] == KP_MSG_DATA

    pkts = sniff(iface=a.iface, lfilter=is_data, count=1, timeout=a.timeout)
    if not pkts:
        print("no DATA frame seen", file=sys.stderr)
        return 1
    p = pkts[0]
    raw = bytes(p[UDP].payload)
    f = DATA_HDR.unpack(raw[:40])
    out = {"outer_src": p[IP].src, "outer_sport": p[UDP].sport, "outer_dst": p[IP].dst,
           "outer_dport": p[UDP].dport, "session_id": f[4], "kite_id": f[5],
           "client_port": f[6], "client_family": f[7], "key_epoch": f[8],
           "client_addr": socket.inet_ntop(socket.AF_INET6, f[9]), "cookie": f[10].hex(),
           "header": raw[:40].hex()}
    print(json.dumps(out))
    return 0


def forged(frame, session_id, cookie_flip, payload):
    hdr = bytearray(bytes.fromhex(frame["header"]))
    hdr[3] = 0  # flags: from the connector
    struct.pack_into("!I", hdr, 4, session_id)
    if cookie_flip:
        hdr[32] ^= 0x01
    return bytes(hdr) + payload


def cmd_forge(a):
    from scapy.all import IP, UDP, send  # noqa

    frame = json.load(open(a.frame))
    fe, tport = frame["outer_src"], frame["outer_sport"]
    conn, cport = frame["outer_dst"], frame["outer_dport"]
    sid = frame["session_id"]
    client = frame["client_addr"].replace("::ffff:", "")
    listen = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listen.bind((client, frame["client_port"]))
    listen.setblocking(False)
    kinds = {
        # same source as the real connector, session id of another generation
        "unknown_session": (conn, cport, (sid + (1 << 17)) & 0xFFFFFFFF or 1, False),
        # the real session id, sent from the attacker's own address
        "wrong_source": (a.attacker, cport, sid, False),
        # the real session and spoofed real source, cookie off by one bit
        "bad_cookie": (conn, cport, sid, True),
    }
    for kind in a.kinds.split(","):
        src, sport, s_id, flip = kinds[kind]
        body = forged(frame, s_id, flip, b"FORGED-" + kind.encode())
        pkt = IP(src=src, dst=fe) / UDP(sport=sport, dport=tport) / body
        send(pkt, count=a.count, verbose=False)
    # A real datagram from the same client socket to the kite; its echo must be
    # the first (and only) thing this socket receives.
    marker = b"REAL-AFTER-FORGED"
    listen.sendto(marker, (a.kite_addr, a.kite_port))
    got = []
    deadline = time.monotonic() + a.timeout
    while time.monotonic() < deadline:
        r, _, _ = select.select([listen], [], [], 0.1)
        if not r:
            continue
        data, peer = listen.recvfrom(65536)
        got.append(data)
        if data == marker:
            break
    leaked = [g for g in got if g != marker]
    # Positive control: the captured frame replayed unchanged from the real
    # connector's address is valid and must reach this socket, which proves
    # the check above could have seen a leak.
    control = b"VALID-REPLAY"
    send(IP(src=conn, dst=fe) / UDP(sport=cport, dport=tport) / forged(frame, sid, False, control),
         verbose=False)
    control_seen = False
    deadline = time.monotonic() + a.timeout
    while time.monotonic() < deadline and not control_seen:
        r, _, _ = select.select([listen], [], [], 0.1)
        if r:
            control_seen = listen.recvfrom(65536)[0] == control
    result = {"sent_per_kind": a.count, "echo_seen": marker in got,
              "leaked": [g[:40].decode(errors="replace") for g in leaked],
              "valid_replay_delivered": control_seen}
    print(json.dumps(result))
    return 0 if marker in got and not leaked and control_seen else 1


def find_key(node, key, out):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key:
                out.append(v)
            find_key(v, key, out)
    elif isinstance(node, list):
        for v in node:
            find_key(v, key, out)


def cmd_json_find(a):
    doc = json.load(open(a.file) if a.file != "-" else sys.stdin)
    out = []
    if "." in a.key:  # a dotted path from the top: drops.tunnel_bad_cookie
        node = doc
        for part in a.key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node is not None:
            out.append(node)
    else:
        find_key(doc, a.key, out)
    for v in out:
        print(json.dumps(v) if isinstance(v, (dict, list)) else v)
    return 0 if out else 1


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("roundtrip")
    r.add_argument("--dst", required=True)
    r.add_argument("--src", action="append", required=True)
    r.add_argument("--sport", type=int, default=0)
    r.add_argument("--count", type=int, default=100)
    r.add_argument("--sizes", default="64,512,1400")
    r.add_argument("--rate", type=float, default=2000.0)
    r.add_argument("--timeout", type=float, default=5.0)
    c = sub.add_parser("capture-data")
    c.add_argument("--iface", required=True)
    c.add_argument("--frontend", required=True)
    c.add_argument("--timeout", type=float, default=15.0)
    c.add_argument("--ready-file")
    f = sub.add_parser("forge-check")
    f.add_argument("--frame", required=True)
    f.add_argument("--attacker", required=True)
    f.add_argument("--kite-addr", required=True)
    f.add_argument("--kite-port", type=int, required=True)
    f.add_argument("--kinds", default="unknown_session,wrong_source,bad_cookie")
    f.add_argument("--count", type=int, default=20)
    f.add_argument("--timeout", type=float, default=5.0)
    j = sub.add_parser("json-find")
    j.add_argument("key")
    j.add_argument("file", nargs="?", default="-")
    a = p.parse_args()
    handlers = {"roundtrip": cmd_roundtrip, "capture-data": cmd_capture,
                "forge-check": cmd_forge, "json-find": cmd_json_find}
    return handlers[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
