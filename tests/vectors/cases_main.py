"""Cases of vectors.json: the base world, front-end serving, gateway next hop.

Grouped as forwarding.md is: client -> connector (encapsulation and the kite
rules of section 3), connector -> client (decapsulation and the tunnel rules
of section 4), parse drops (section 1) and exceptions.  Each case states the
verdict the page prescribes; the expected bytes come from frames.World.
"""

import struct

import frames as fr
import model
import vectorlib as vl
import world as w
from frames import payload_bytes

P64 = payload_bytes(64)


def tx(name, desc, inp, out, kite_id):
    return {"name": name, "description": desc, "input": inp.hex(), "verdict": "tx",
            "reason": "none", "kite_id": kite_id, "output": out.hex()}


def drop(name, desc, inp, reason, kite_id=0):
    return {"name": name, "description": desc, "input": bytes(inp).hex(),
            "verdict": "drop", "reason": reason, "kite_id": kite_id}


def exc(name, desc, inp):
    return {"name": name, "description": desc, "input": bytes(inp).hex(),
            "verdict": "exception", "reason": "none", "kite_id": 0}


def kaddr(W, kite_id):
    k = W.kites[kite_id]
    return k["addr"], k["port"]


def client_to(W, kite_id, payload=P64, client=None, vlan=None, **kw):
    """A client datagram to kite `kite_id` from CLIENT4/CLIENT6 (kite's family)."""
    addr, port = kaddr(W, kite_id)
    if client is None:
        client = w.CLIENT4 if vl.family_of(addr) == 4 else w.CLIENT6
    return fr.udp_frame(client, w.CPORT, addr, port, payload, vlan=vlan, **kw)


def enc(W, name, desc, kite_id, payload=P64, client=None, vlan=None):
    addr, _ = kaddr(W, kite_id)
    if client is None:
        client = w.CLIENT4 if vl.family_of(addr) == 4 else w.CLIENT6
    return tx(name, desc, client_to(W, kite_id, payload, client, vlan),
              W.encap(kite_id, client, w.CPORT, payload, vlan), kite_id)


def dec(W, name, desc, session_id, kite_id, payload=P64, client=None, vlan=None,
        epoch=None):
    addr, _ = kaddr(W, kite_id)
    if client is None:
        client = w.CLIENT4 if vl.family_of(addr) == 4 else w.CLIENT6
    inp = W.tunnel(session_id, kite_id, client, w.CPORT, payload, vlan=vlan, epoch=epoch)
    return tx(name, desc, inp, W.decap(kite_id, client, w.CPORT, payload, vlan), kite_id)


def rendezvous_clients(W):
    """Clients of kite 5: best listed id S3; best S4 (down) with S5 next; best
    the stale id.  The first such address in 192.0.2.1..127, deterministic."""
    kite = W.kites[5]
    top_s3 = down_to_s5 = stale = None
    for i in range(1, 128):
        client = "192.0.2.%d" % i
        rank = W.ranking(kite, client)
        if rank[0] == w.S3 and top_s3 is None:
            top_s3 = client
        if rank[0] == w.S4 and rank[1] == w.S5 and down_to_s5 is None:
            down_to_s5 = client
        if rank[0] == w.STALE3 and stale is None:
            stale = client
    assert top_s3 and down_to_s5 and stale
    assert W.pick(kite, down_to_s5)["session_id"] == w.S5
    return top_s3, down_to_s5, stale


def encap_cases(W):
    c = []
    c.append(enc(W, "enc_v4_v4_basic", "IPv4 client, IPv4 kite, IPv4 connector", 1))
    c.append(enc(W, "enc_v4_v4_1byte", "1-byte payload", 1, payload_bytes(1, 1)))
    c.append(enc(W, "enc_v4_v4_1400", "1400-byte payload", 1, payload_bytes(1400, 2)))
    c.append(enc(W, "enc_v4_v4_mtu_exact", "outer IPv4 packet of exactly mtu 1500", 1,
                 payload_bytes(1500 - 68, 3)))
    c.append(enc(W, "enc_v4_v4_empty", "zero-length UDP payload", 1, b""))
    c.append(enc(W, "enc_v4_v6", "IPv4 client to an IPv4 kite served by an IPv6 connector", 3))
    c.append(enc(W, "enc_v6_v6", "IPv6 client, IPv6 kite, IPv6 connector", 2))
    c.append(enc(W, "enc_v6_v4", "IPv6 client to an IPv6 kite served by an IPv4 connector", 4))
    c.append(enc(W, "enc_v6_v6_1400", "IPv6 both legs, 1400-byte payload", 2,
                 payload_bytes(1400, 4)))
    c.append(enc(W, "enc_v6_v4_1byte", "IPv6 client, IPv4 connector, 1 byte", 4,
                 payload_bytes(1, 5)))
    c.append(enc(W, "enc_v4_vlan", "802.1Q tag (prio 3, vid 100) kept on the encapsulated frame",
                 1, vlan=(3, 100)))
    c.append(enc(W, "enc_v6_vlan", "802.1Q tag on an IPv6 client datagram, IPv6 connector", 2,
                 vlan=(0, 4094)))
    # IPv4 UDP checksum 0: no checksum, accepted.
    addr, port = kaddr(W, 1)
    c.append(tx("enc_v4_udp_csum_zero", "IPv4 client datagram without UDP checksum (0)",
                fr.udp_frame(w.CLIENT4, w.CPORT, addr, port, P64, udp_chksum=0),
                W.encap(1, w.CLIENT4, w.CPORT, P64), 1))
    # Ethernet padding (non-zero bytes after the IP total length) is ignored.
    small = payload_bytes(2, 6)
    padded = client_to(W, 1, small) + b"\xee" * 16
    c.append(tx("enc_eth_padding", "16 bytes of Ethernet padding after the IPv4 packet: ignored",
                padded, W.encap(1, w.CLIENT4, w.CPORT, small), 1))
    c.append(enc(W, "enc_kite_port", "same address as kite 1, port 5001: kite 14 (session S3)",
                 14))
    a, b, stale = rendezvous_clients(W)
    c.append(enc(W, "enc_rendezvous_top", "kite 5, client whose best score is S3", 5, client=a))
    c.append(enc(W, "enc_rendezvous_down", "kite 5, best score is S4 (down): next live S5 wins, with its next-hop MAC",
                 5, client=b))
    c.append(enc(W, "enc_rendezvous_stale", "kite 5, best score is a stale id: skipped",
                 5, client=stale))
    c.append(enc(W, "enc_quota_last_byte", "used 999 < granted 1000: may spend", 9,
                 payload_bytes(500, 7)))
    c.append(enc(W, "enc_rate_pps_exact", "refill brings the bucket to exactly one packet", 11))
    c.append(enc(W, "enc_rate_bits_fits", "99 bytes need 792 bits, 799 in the bucket", 12,
                 payload_bytes(99, 8)))
    c.append(enc(W, "enc_rate_fresh_bucket", "first packet (last_ns 0) refills a full bucket",
                 13))
    _, via_s5, _ = rendezvous_clients(W)
    c.append(enc(W, "enc_mtu_session_exact", "S5's mtu 1400: outer IPv4 packet of exactly 1400",
                 5, payload_bytes(1332, 19), client=via_s5))
    c.append(enc(W, "enc_mtu_zero_exact", "S3's mtu 0 means 1500: outer packet of exactly 1500",
                 14, payload_bytes(1432, 20)))
    c.append(enc(W, "enc_kite_on_own_addr", "kite on the front-end's own address, port 6000", 15))
    c.append(enc(W, "enc_kite_on_port_7000", "kite on port 7000 of a non-front-end address", 16))
    for name, kite in [("enc_v4_csum_ffff", 1), ("enc_v6_csum_ffff", 2)]:
        client = w.CLIENT4 if kite == 1 else w.CLIENT6
        pl = zero_csum_payload(lambda p, k=kite, cl=client: W.encap(k, cl, w.CPORT, p), 100)
        c.append(enc(W, name, "outer UDP checksum computes to 0: sent as 0xffff", kite, pl))
    return c


def zero_csum_payload(make_out, n):
    """A payload of even length `n` whose output frame's UDP checksum computes
    to 0 (so it must be sent as 0xffff): its last 16-bit word is solved for."""
    base = payload_bytes(n - 2, 30) + b"\0\0"
    out = make_out(base)
    off = fr.l2_offset(out)
    if out[off] >> 4 == 4:
        src, dst, l4 = out[off + 12:off + 16], out[off + 16:off + 20], out[off + 20:]
        pseudo = src + dst + struct.pack("!BBH", 0, 17, len(l4))
    else:
        src, dst, l4 = out[off + 8:off + 24], out[off + 24:off + 40], out[off + 40:]
        pseudo = src + dst + struct.pack("!IxxxB", len(l4), 17)
    s = model.csum16(pseudo + l4[:6] + b"\0\0" + l4[8:])
    payload = base[:-2] + struct.pack("!H", 0xFFFF - s)
    out = make_out(payload)
    assert out[off + (26 if out[off] >> 4 == 4 else 46):][:2] == b"\xff\xff"
    return payload


def kite_drop_cases(W):
    c = []
    addr, port = kaddr(W, 1)
    for name, src in [("bogon_source_prefix4", "192.0.2.200"),
                      ("bogon_source_loopback4", "127.0.0.1"),
                      ("bogon_source_own4", w.OWN4),
                      ("bogon_source_multicast4", "224.0.0.1"),
                      ("bogon_source_unspec4", "0.0.0.0")]:
        c.append(drop(name, "client source %s" % src,
                      fr.udp_frame(src, w.CPORT, addr, port, P64), "bogon_source"))
    a6, p6 = kaddr(W, 2)
    for name, src in [("bogon_source_prefix6", "2001:db8:bad::1"),
                      ("bogon_source_loopback6", "::1"),
                      ("bogon_source_own6", w.OWN6),
                      ("bogon_source_multicast6", "ff02::1")]:
        c.append(drop(name, "client source %s" % src,
                      fr.udp_frame(src, w.CPORT, a6, p6, P64), "bogon_source"))
    c.append(drop("enc_kite_disabled", "kite 6 is disabled", client_to(W, 6),
                  "kite_disabled", 6))
    c.append(drop("enc_kite_no_session", "kite 7's only session is down", client_to(W, 7),
                  "kite_no_session", 7))
    c.append(drop("enc_quota_exhausted", "used 1000 of 1000 granted", client_to(W, 8),
                  "quota_exhausted", 8))
    c.append(drop("enc_rate_packets", "refill brings 65535 tokens: one short",
                  client_to(W, 10), "rate_packets", 10))
    c.append(drop("enc_rate_pps_half_token", "1 pps, 500 ms since the last refill: half a token",
                  client_to(W, 17), "rate_packets", 17))
    c.append(drop("enc_quota_before_rate", "no credit granted (kite not listed) and no tokens: "
                  "quota is checked first", client_to(W, 18), "quota_exhausted", 18))
    c.append(drop("enc_packets_before_bits", "both buckets empty: the packet rate is named",
                  client_to(W, 19), "rate_packets", 19))
    c.append(drop("enc_rate_before_mtu", "over its rate and too large: rate is checked first",
                  client_to(W, 10, payload_bytes(1433, 16)), "rate_packets", 10))
    _, via_s5, _ = rendezvous_clients(W)
    c.append(drop("enc_mtu_session_1400", "S5's mtu 1400: outer IPv4 packet 1401",
                  client_to(W, 5, payload_bytes(1333, 17), client=via_s5), "mtu_exceeded", 5))
    c.append(drop("enc_mtu_zero_means_1500", "S3's mtu 0 means 1500: outer packet 1501",
                  client_to(W, 14, payload_bytes(1433, 18)), "mtu_exceeded", 14))
    c.append(drop("enc_rate_bits", "100 bytes need 800 bits, 799 in the bucket",
                  client_to(W, 12, payload_bytes(100, 9)), "rate_bits", 12))
    c.append(drop("enc_mtu_exceeded_v4", "outer IPv4 packet 1501 > mtu 1500",
                  client_to(W, 1, payload_bytes(1500 - 67, 10)), "mtu_exceeded", 1))
    c.append(drop("enc_mtu_exceeded_v6", "outer IPv6 packet 1501 > mtu 1500",
                  client_to(W, 2, payload_bytes(1500 - 87, 11)), "mtu_exceeded", 2))
    return c


def decap_cases(W):
    c = []
    c.append(dec(W, "dec_v4_v4_basic", "IPv4 connector to an IPv4 client", w.S1, 1))
    c.append(dec(W, "dec_v4_v4_1byte", "1-byte reply", w.S1, 1, payload_bytes(1, 12)))
    c.append(dec(W, "dec_v4_v4_1400", "1400-byte reply", w.S1, 1, payload_bytes(1400, 13)))
    c.append(dec(W, "dec_v4_v4_empty", "zero-length reply", w.S1, 1, b""))
    c.append(dec(W, "dec_v6conn_v4client", "IPv6 connector to an IPv4 client", w.S2, 3))
    c.append(dec(W, "dec_v6_v6", "IPv6 connector to an IPv6 client", w.S2, 2))
    c.append(dec(W, "dec_v4conn_v6client", "IPv4 connector to an IPv6 client", w.S1, 4))
    c.append(dec(W, "dec_v6_v6_1400", "IPv6 both legs, 1400 bytes", w.S2, 2,
                 payload_bytes(1400, 14)))
    c.append(dec(W, "dec_v4_vlan", "802.1Q tag kept on the decapsulated frame", w.S1, 1,
                 vlan=(5, 200)))
    c.append(dec(W, "dec_v6_vlan", "802.1Q tag, IPv6 both legs", w.S2, 2, vlan=(0, 7)))
    c.append(dec(W, "dec_prev_epoch", "cookie of the previous key epoch (6) accepted",
                 w.S1, 1, epoch=w.KEY_EPOCH - 1))
    c.append(dec(W, "dec_csum_ffff", "UDP checksum toward the client computes to 0: 0xffff",
                 w.S1, 1, zero_csum_payload(lambda p: W.decap(1, w.CLIENT4, w.CPORT, p), 64)))
    c.append(dec(W, "dec_v6_csum_ffff", "same over IPv6", w.S2, 2,
                 zero_csum_payload(lambda p: W.decap(2, w.CLIENT6, w.CPORT, p), 64)))
    inp = W.tunnel(w.S1, 1, w.CLIENT4, w.CPORT, P64)
    inp = inp[:40] + b"\0\0" + inp[42:]
    c.append(tx("dec_tunnel_udp_csum_zero", "tunnel frame over IPv4 without UDP checksum (0)",
                inp, W.decap(1, w.CLIENT4, w.CPORT, P64), 1))
    c.append(dec(W, "dec_kite_on_own_addr", "reply for kite 15 (on the front-end's address)",
                 w.S1, 15))
    c.append(dec(W, "dec_nexthop_session", "session with its own next hop: toward the client "
                 "the gateway MAC is used", w.S5, 5))
    return c


def build(abi):
    """The whole vectors.json document."""
    import cases_bad  # late: it imports helpers from this module
    doc = w.base_world()
    W = w.world_of(abi, doc)
    doc["cases"] = (encap_cases(W) + kite_drop_cases(W) + decap_cases(W) +
                    cases_bad.tunnel_cases(W) + cases_bad.parse_cases(W) +
                    cases_bad.order_cases(W) + cases_bad.exception_cases(W))
    return doc
