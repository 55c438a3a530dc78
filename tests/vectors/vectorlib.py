"""Building blocks of the golden-vector oracle, written from docs/forwarding.md.

This module holds everything gen_vectors.py needs that is not a test case:
the ABI constants read straight out of dataplane/abi/*.h (so no number is
copied by hand), SipHash-2-4 (checked at import time against the 64 reference
outputs of the SipHash paper), the fmix64 rendezvous pick, the token-bucket
arithmetic, address helpers, the DATA header layout and a tiny deterministic
pcap writer.  It deliberately never looks at the C++ or BPF fast-path code:
it is an independent second implementation of the written semantics.
"""

import ipaddress
import os
import re
import struct

MASK64 = (1 << 64) - 1
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ABI_DIR = os.path.join(ROOT, "dataplane", "abi")


# --------------------------------------------------------------------------
# ABI constants, parsed from the C headers.

class Abi:
    """Constants, enums and X-macro lists of dataplane/abi/*.h."""

    def __init__(self, abi_dir=ABI_DIR):
        self.consts = {}
        self.drop_reasons = []      # metric names, in id order
        self.global_counters = []
        self.kite_counters = []
        texts = {}
        for name in sorted(os.listdir(abi_dir)):
            if name.endswith(".h"):
                with open(os.path.join(abi_dir, name), encoding="utf-8") as f:
                    texts[name] = re.sub(r"/\*.*?\*/", "", f.read(), flags=re.S)
        for text in texts.values():
            self._parse_enums(text)
        for _ in range(3):  # defines may refer to each other
            for text in texts.values():
                self._parse_defines(text)
        counters = texts["kp_counters.h"]
        self.drop_reasons = self._xlist(counters, "KP_DROP_REASONS")
        self.global_counters = self._xlist(counters, "KP_GLOBAL_COUNTERS")
        self.kite_counters = self._xlist(counters, "KP_KITE_COUNTERS")

    def __getitem__(self, name):
        return self.consts[name]

    def _eval(self, expr):
        expr = expr.strip()
        expr = re.sub(r"(0x[0-9a-fA-F]+|\d+)[uUlL]+\b", r"\1", expr)
        for ident in sorted(set(re.findall(r"(?<!\w)[A-Za-z_]\w*", expr)), key=len,
                            reverse=True):
            if ident not in self.consts:
                return None
            expr = re.sub(r"\b%s\b" % ident, str(self.consts[ident]), expr)
        if not re.fullmatch(r"[0-9a-fA-Fx()+\-*<> |&]+", expr):
            return None
        return int(eval(expr, {"__builtins__": {}}))  # digits and operators only

    def _parse_defines(self, text):
        for m in re.finditer(r"^#define\s+(KP_\w+)[ \t]+([^\n\\]+)$", text, re.M):
            value = self._eval(m.group(2))
            if value is not None:
                self.consts[m.group(1)] = value

    def _parse_enums(self, text):
        for body in re.findall(r"enum\s+\w+\s*\{([^}]*)\}", text):
            for m in re.finditer(r"(KP_\w+)\s*=\s*(0x[0-9a-fA-F]+|\d+)", body):
                self.consts[m.group(1)] = int(m.group(2), 0)

    @staticmethod
    def _xlist(text, macro):
        m = re.search(r"#define\s+%s\(X\)(.*?)(?:\n\s*\n|\n#)" % macro, text, re.S)
        assert m, "X-macro list %s not found" % macro
        return re.findall(r'X\(\s*\w+\s*,\s*"([^"]+)"', m.group(1))


# --------------------------------------------------------------------------
# SipHash-2-4, from the paper (Aumasson & Bernstein), written here.

def _rotl(x, b):
    return ((x << b) | (x >> (64 - b))) & MASK64


def _sipround(v0, v1, v2, v3):
    v0 = (v0 + v1) & MASK64
    v1 = _rotl(v1, 13) ^ v0
    v0 = _rotl(v0, 32)
    v2 = (v2 + v3) & MASK64
    v3 = _rotl(v3, 16) ^ v2
    v0 = (v0 + v3) & MASK64
    v3 = _rotl(v3, 21) ^ v0
    v2 = (v2 + v1) & MASK64
    v1 = _rotl(v1, 17) ^ v2
    v2 = _rotl(v2, 32)
    return v0, v1, v2, v3


def siphash24(k0, k1, data):
    """SipHash-2-4 of bytes `data` under the 128-bit key (k0, k1); returns u64."""
    v0 = k0 ^ 0x736F6D6570736575
    v1 = k1 ^ 0x646F72616E646F6D
    v2 = k0 ^ 0x6C7967656E657261
    v3 = k1 ^ 0x7465646279746573
    tail_len = len(data) % 8
    body = data[:len(data) - tail_len]
    for off in range(0, len(body), 8):
        m = struct.unpack_from("<Q", body, off)[0]
        v3 ^= m
        v0, v1, v2, v3 = _sipround(v0, v1, v2, v3)
        v0, v1, v2, v3 = _sipround(v0, v1, v2, v3)
        v0 ^= m
    last = ((len(data) & 0xFF) << 56) | int.from_bytes(data[len(body):], "little")
    v3 ^= last
    v0, v1, v2, v3 = _sipround(v0, v1, v2, v3)
    v0, v1, v2, v3 = _sipround(v0, v1, v2, v3)
    v0 ^= last
    v2 ^= 0xFF
    for _ in range(4):
        v0, v1, v2, v3 = _sipround(v0, v1, v2, v3)
    return v0 ^ v1 ^ v2 ^ v3


# Reference outputs of SipHash-2-4 (vectors_sip64 of the reference
# implementation): key 00 01 .. 0f, message 00 01 .. (n-1) for n = 0..63.
SIPHASH_REFERENCE = [
    0x726fdb47dd0e0e31, 0x74f839c593dc67fd, 0x0d6c8009d9a94f5a, 0x85676696d7fb7e2d,
    0xcf2794e0277187b7, 0x18765564cd99a68d, 0xcbc9466e58fee3ce, 0xab0200f58b01d137,
    0x93f5f5799a932462, 0x9e0082df0ba9e4b0, 0x7a5dbbc594ddb9f3, 0xf4b32f46226bada7,
    0x751e8fbc860ee5fb, 0x14ea5627c0843d90, 0xf723ca908e7af2ee, 0xa129ca6149be45e5,
    0x3f2acc7f57c29bdb, 0x699ae9f52cbe4794, 0x4bc1b3f0968dd39c, 0xbb6dc91da77961bd,
    0xbed65cf21aa2ee98, 0xd0f2cbb02e3b67c7, 0x93536795e3a33e88, 0xa80c038ccd5ccec8,
    0xb8ad50c6f649af94, 0xbce192de8a85b8ea, 0x17d835b85bbb15f3, 0x2f2e6163076bcfad,
    0xde4daaaca71dc9a5, 0xa6a2506687956571, 0xad87a3535c49ef28, 0x32d892fad841c342,
    0x7127512f72f27cce, 0xa7f32346f95978e3, 0x12e0b01abb051238, 0x15e034d40fa197ae,
    0x314dffbe0815a3b4, 0x027990f029623981, 0xcadcd4e59ef40c4d, 0x9abfd8766a33735c,
    0x0e3ea96b5304a7d0, 0xad0c42d6fc585992, 0x187306c89bc215a9, 0xd4a60abcf3792b95,
    0xf935451de4f21df2, 0xa9538f0419755787, 0xdb9acddff56ca510, 0xd06c98cd5c0975eb,
    0xe612a3cb9ecba951, 0xc766e62cfcadaf96, 0xee64435a9752fe72, 0xa192d576b245165a,
    0x0a8787bf8ecb74b2, 0x81b3e73d20b49b6f, 0x7fa8220ba3b2ecea, 0x245731c13ca42499,
    0xb78dbfaf3a8d83bd, 0xea1ad565322a1a0b, 0x60e61c23a3795013, 0x6606d7e446282b93,
    0x6ca4ecb15c5f91e1, 0x9f626da15c9625f3, 0xe51b38608ef25f57, 0x958a324ceb064572,
]


def _check_siphash():
    key = bytes(range(16))
    k0, k1 = struct.unpack("<QQ", key)
    for n, want in enumerate(SIPHASH_REFERENCE):
        got = siphash24(k0, k1, bytes(range(n)))
        assert got == want, "SipHash-2-4 vector %d: %016x != %016x" % (n, got, want)


_check_siphash()


# --------------------------------------------------------------------------
# Rendezvous pick (forwarding.md, "Backend pick").

def fmix64(x):
    x &= MASK64
    x ^= x >> 33
    x = (x * 0xFF51AFD7ED558CCD) & MASK64
    x ^= x >> 33
    x = (x * 0xC4CEB9FE1A85EC53) & MASK64
    x ^= x >> 33
    return x


def client_hash(addr16):
    lo, hi = struct.unpack("<QQ", addr16)
    return fmix64(lo ^ fmix64(hi))


def session_score(chash, session_id):
    return fmix64(chash ^ ((session_id * 0x9E3779B97F4A7C15) & MASK64))


# --------------------------------------------------------------------------
# Addresses.

def addr16(text):
    """16-byte form: IPv6 as is, IPv4 as ::ffff:a.b.c.d."""
    ip = ipaddress.ip_address(text)
    if ip.version == 4:
        return b"\x00" * 10 + b"\xff\xff" + ip.packed
    return ip.packed


def family_of(text):
    return 4 if ipaddress.ip_address(text).version == 4 else 6


def prefix16(text):
    """A prefix in the 16-byte form: (network bytes, length in bits)."""
    net = ipaddress.ip_network(text, strict=True)
    if net.version == 4:
        return addr16(str(net.network_address)), 96 + net.prefixlen
    return net.network_address.packed, net.prefixlen


def in_prefix(a16, prefix):
    net, plen = prefix
    a = int.from_bytes(a16, "big")
    n = int.from_bytes(net, "big")
    shift = 128 - plen
    return (a >> shift) == (n >> shift)


def mac_bytes(text):
    return bytes(int(x, 16) for x in text.split(":"))


# --------------------------------------------------------------------------
# Token buckets (forwarding.md section 5), one core's share.

def bucket_shares(kite, n_workers):
    """Per-core (r_pps, r_kbps); 0 stays 0 (unlimited)."""
    n = max(1, n_workers)
    pps = max(1, kite["rate_pps"] // n) if kite["rate_pps"] else 0
    kbps = max(1, kite["rate_kbps"] // n) if kite["rate_kbps"] else 0
    return pps, kbps


def police(kite, state, now, payload, n_workers):
    """Returns the drop reason ("rate_packets", "rate_bits") or None.

    `state` is the kite's police dict; it is updated as a fast path would."""
    r_pps, r_kbps = bucket_shares(kite, n_workers)
    burst = kite["burst_ms"] or 100
    pkt = state["pkt_tokens"]
    bits = state["bit_tokens"]
    elapsed = now - state["last_ns"]
    if r_pps:
        cap = max(65536, r_pps * 65536 * burst // 1000)
        pkt = min(cap, pkt + elapsed * r_pps * 65536 // 10**9)
    if r_kbps:
        cap = max(8 * 65535, r_kbps * burst)
        bits = min(cap, bits + elapsed * r_kbps // 10**6)
    if r_pps and pkt < 65536:
        return "rate_packets"
    if r_kbps and bits < 8 * payload:
        return "rate_bits"
    return None


# --------------------------------------------------------------------------
# DATA header (kp_wire.h struct kp_data_hdr).

def cookie_input(abi, hdr_8_32):
    """The flow cookie's MAC input, given DATA header bytes [8, 32).

    IPv6 clients (and any family byte other than 4): all 24 bytes.  IPv4
    clients: bytes [8, 16) followed by the IPv4 address, header bytes
    [28, 32), 12 bytes (kp_wire.h, docs/protocol.md)."""
    assert len(hdr_8_32) == abi["KP_COOKIE_INPUT_LEN"]
    if hdr_8_32[6] != abi["KP_AF_INET"]:
        return bytes(hdr_8_32)
    off = abi["KP_COOKIE_INPUT_OFFSET"]
    at = abi["KP_COOKIE_INPUT4_ADDR_OFFSET"] - off
    out = bytes(hdr_8_32[:8]) + bytes(hdr_8_32[at:at + 4])
    assert len(out) == abi["KP_COOKIE_INPUT4_LEN"]
    return out


def data_header(abi, session_id, kite_id, client_port, client_family,
                key_epoch, client_addr16, cookie=None, keys=None,
                flags=None, magic=None, version=None, msg_type=None):
    """Packs a 40-byte DATA header; computes the cookie from `keys` if None."""
    mac_input = struct.pack("!IHBB16s", kite_id, client_port, client_family,
                            key_epoch, client_addr16)
    assert len(mac_input) == abi["KP_COOKIE_INPUT_LEN"]
    if cookie is None:
        k0, k1 = keys[key_epoch & 1]
        cookie = siphash24(k0, k1, cookie_input(abi, mac_input))
    hdr = struct.pack("!BBBBI",
                      abi["KP_MAGIC"] if magic is None else magic,
                      abi["KP_PROTO_VERSION"] if version is None else version,
                      abi["KP_MSG_DATA"] if msg_type is None else msg_type,
                      0 if flags is None else flags, session_id)
    hdr += mac_input + struct.pack("<Q", cookie)
    assert len(hdr) == abi["KP_ENCAP_OVERHEAD_V4"] - abi["KP_IP4_HDR_LEN"] - abi["KP_UDP_HDR_LEN"]
    return hdr


# --------------------------------------------------------------------------
# pcap (classic libpcap format, Ethernet), deterministic timestamps.

def pcap_bytes(frames):
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for i, frame in enumerate(frames):
        out.append(struct.pack("<IIII", i, 0, len(frame), len(frame)))
        out.append(frame)
    return b"".join(out)
