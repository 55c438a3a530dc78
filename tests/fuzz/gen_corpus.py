#!/usr/bin/python3
"""gen_corpus.py - writes the seed corpora of the fast-path fuzz targets.

packet_parse_fuzz_corpus/: every input frame of the golden vectors
(tests/vectors/vectors.json: valid frames of both families, VLAN, and one of
each malformed kind).  decap_fuzz_corpus/: the same frames in raw mode
(first byte 0x00) plus tunnel payloads in wrapped mode (first byte 0x03:
valid envelope, cookie recomputed) and a few with mode 0x01 (cookie as is).
Run with /usr/bin/python3; rewrites both folders but keeps regress_* files.
"""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def reset(d):
    """Empties d except for regress_* files (inputs that once found a bug)."""
    os.makedirs(d, exist_ok=True)
    for name in os.listdir(d):
        if not name.startswith("regress_"):
            os.remove(os.path.join(d, name))


def data_hdr(session, kite, client_port, family, epoch, addr16, cookie=b"\0" * 8):
    return struct.pack(">BBBBIIHBB", 0x4B, 1, 1, 0, session, kite, client_port, family, epoch) + addr16 + cookie


def main():
    with open(os.path.join(ROOT, "tests", "vectors", "vectors.json")) as f:
        cases = json.load(f)["cases"]
    parse_dir = os.path.join(HERE, "packet_parse_fuzz_corpus")
    decap_dir = os.path.join(HERE, "decap_fuzz_corpus")
    reset(parse_dir)
    reset(decap_dir)
    for c in cases:
        frame = bytes.fromhex(c["input"])
        with open(os.path.join(parse_dir, c["name"]), "wb") as f:
            f.write(frame)
        if c["name"].startswith(("dec_", "tunnel_")) or c["verdict"] == "tx":
            with open(os.path.join(decap_dir, "raw_" + c["name"]), "wb") as f:
                f.write(b"\x00" + frame)
    v4 = bytes(10) + b"\xff\xff" + bytes([192, 0, 2, 1])
    v6 = bytes.fromhex("20010db8000100000000000000000001")
    session = (1 << 17) | 1
    seeds = {
        "wrap_v4_kite1": (3, data_hdr(session, 1, 40000, 4, 7, v4) + b"hello"),
        "wrap_v6_kite2": (3 | 0x40, data_hdr(session, 2, 40000, 6, 7, v6) + b"x" * 100),
        "wrap_v4_prev_epoch": (3, data_hdr(session, 1, 1234, 4, 6, v4) + b"y" * 20),
        "wrap_disabled_kite": (3, data_hdr(session, 3, 1, 4, 7, v4)),
        "wrap_bad_cookie": (1, data_hdr(session, 1, 40000, 4, 7, v4) + b"z"),
        "wrap_control_hello": (1, bytes([0x4B, 1, 0x10, 0]) + bytes(124)),
        "wrap_short": (1, bytes([0x4B, 1, 1])),
        "wrap_tight_headroom": (3 | 0x80, data_hdr(session, 1, 40000, 4, 7, v4) + b"q" * 8),
    }
    for name, (mode, payload) in seeds.items():
        with open(os.path.join(decap_dir, name), "wb") as f:
            f.write(bytes([mode]) + payload)
    print("packet_parse:", len(os.listdir(parse_dir)), "decap:", len(os.listdir(decap_dir)))


if __name__ == "__main__":
    main()
