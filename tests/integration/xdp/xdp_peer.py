#!/usr/bin/python3
"""xdp_peer.py - the client and the connector of the XDP integration test.

Runs in the peer network namespace.  The client sends datagrams to the kite;
the connector (a plain UDP socket at the session's connector address) must
receive each one as a kiteplane DATA frame carrying the client's address,
port and payload; it echoes the DATA header back with a reply payload, and the
client must receive that reply from the kite's public address and port.
Exits 0 when every round trip checks out, 1 (with the reason) otherwise.
usage: xdp_peer.py CLIENT_ADDR KITE_ADDR KITE_PORT CONNECTOR_ADDR CONNECTOR_PORT FE_ADDR FE_PORT
"""
import socket
import struct
import sys

TIMEOUT_S = 5.0
ROUNDS = 3


def fail(msg):
    print("xdp_peer: FAIL: " + msg)
    sys.exit(1)


def main():
    client_addr, kite_addr, kite_port, conn_addr, conn_port, fe_addr, fe_port = sys.argv[1:8]
    kite_port, conn_port, fe_port = int(kite_port), int(conn_port), int(fe_port)
    conn = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    conn.bind((conn_addr, conn_port))
    conn.settimeout(TIMEOUT_S)
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.bind((client_addr, 0))
    client.settimeout(TIMEOUT_S)
    client_port = client.getsockname()[1]
    mapped = b"\0" * 10 + b"\xff\xff" + socket.inet_aton(client_addr)
    for i in range(ROUNDS):
        payload = b"kiteplane-xdp-%d-" % i + bytes(range(40))
        client.sendto(payload, (kite_addr, kite_port))
        try:
            frame, src = conn.recvfrom(4096)
        except socket.timeout:
            fail("round %d: connector received nothing (no encapsulated frame)" % i)
        if src != (fe_addr, fe_port):
            fail("round %d: DATA frame came from %s, want %s:%d" % (i, src, fe_addr, fe_port))
        if len(frame) != 40 + len(payload):
            fail("round %d: DATA frame is %d bytes, want %d" % (i, len(frame), 40 + len(payload)))
        magic, version, mtype, flags, session, kite, cport, cfam, epoch = struct.unpack(
            "!BBBBIIHBB", frame[:16])
        if (magic, version, mtype, flags) != (0x4B, 1, 1, 1):
            fail("round %d: bad DATA header %s" % (i, frame[:4].hex()))
        if kite != 1 or cport != client_port or cfam != 4 or frame[16:32] != mapped:
            fail("round %d: DATA header names kite %d client port %d family %d addr %s" %
                 (i, kite, cport, cfam, frame[16:32].hex()))
        if frame[40:] != payload:
            fail("round %d: payload changed on the way" % i)
        reply = b"reply-%d-" % i + payload[::-1]
        hdr = bytearray(frame[:40])
        hdr[3] = 0  # from the connector
        conn.sendto(bytes(hdr) + reply, (fe_addr, fe_port))
        try:
            got, src = client.recvfrom(4096)
        except socket.timeout:
            fail("round %d: client received no reply (decapsulation)" % i)
        if src != (kite_addr, kite_port) or got != reply:
            fail("round %d: client got %r from %s" % (i, got[:16], src))
        print("xdp_peer: round %d ok: session %d, %d-byte payload each way" % (i, session, len(payload)))
    # A forged reply (bad cookie) must not reach the client: send it, then a
    # valid one; the first datagram the client sees must be the valid one.
    bad = bytearray(hdr)
    bad[32] ^= 0xFF
    conn.sendto(bytes(bad) + b"forged", (fe_addr, fe_port))
    conn.sendto(bytes(hdr) + b"genuine", (fe_addr, fe_port))
    try:
        got, src = client.recvfrom(4096)
    except socket.timeout:
        fail("client received nothing after the forged and the genuine reply")
    if got != b"genuine":
        fail("a DATA frame with a bad cookie reached the client: %r" % got)
    print("xdp_peer: forged cookie dropped, genuine reply delivered")
    return 0


if __name__ == "__main__":
    sys.exit(main())
