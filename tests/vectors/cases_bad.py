"""Cases of vectors.json that end in a drop or an exception: malformed frames
(forwarding.md section 1), forged or stale tunnel frames (section 4) and
everything that belongs to the kernel or the control plane.

Malformed inputs start as well-formed scapy frames and are then broken one
field at a time, keeping every earlier check passing, so each case isolates
exactly the reason it names.
"""

import struct

from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import (ICMPv6EchoRequest, ICMPv6MLReport, IPv6,
                                IPv6ExtHdrDestOpt, IPv6ExtHdrFragment,
                                IPv6ExtHdrHopByHop, IPv6ExtHdrRouting, RouterAlert)
from scapy.layers.l2 import ARP, Dot1Q, Ether
from scapy.packet import Raw

import frames as fr
import vectorlib as vl
import world as w
from cases_main import P64, client_to, drop, exc, kaddr
from frames import OWN_MAC, PEER_MAC, payload_bytes

ETH = 14


def _v4(W):
    return bytearray(client_to(W, 1))


def _v6(W):
    return bytearray(client_to(W, 2))


def parse_cases(W):
    c = []
    good4 = _v4(W)
    good6 = _v6(W)
    c.append(drop("eth_truncated", "13-byte frame", good4[:13], "eth_truncated"))
    tagged = bytearray(client_to(W, 1, vlan=(0, 10)))
    c.append(drop("vlan_truncated", "802.1Q EtherType, tag cut after 3 bytes", tagged[:17],
                  "vlan_truncated"))
    qinq = tagged[:16] + b"\x81\x00\x00\x14" + tagged[16:]
    c.append(drop("vlan_stacked_8100", "two 802.1Q tags", qinq, "vlan_stacked"))
    ad = bytearray(tagged)
    ad[12:14] = b"\x88\xa8"
    c.append(drop("vlan_stacked_88a8", "outer 802.1ad S-tag", ad, "vlan_stacked"))
    inner_ad = bytearray(tagged)
    inner_ad[16:18] = b"\x88\xa8"
    c.append(drop("vlan_stacked_inner_88a8", "802.1Q tag then an 802.1ad EtherType",
                  inner_ad, "vlan_stacked"))
    c.append(drop("ipv4_truncated", "19 bytes of IPv4 header", good4[:ETH + 19],
                  "ipv4_truncated"))
    f = bytearray(good4)
    f[ETH] = 0x65
    c.append(drop("ipv4_bad_version", "IPv4 EtherType, version 6 in the header",
                  fr.fix_ip4_csum(f), "ipv4_bad_version"))
    f = bytearray(good4)
    f[ETH] = 0x44
    c.append(drop("ipv4_bad_ihl", "IHL 4", f, "ipv4_bad_ihl"))
    f = bytearray(good4)
    struct.pack_into("!H", f, ETH + 2, len(f) - ETH + 1)
    c.append(drop("ipv4_bad_length_long", "total length one byte past the frame",
                  fr.fix_ip4_csum(f), "ipv4_bad_length"))
    f = bytearray(good4)
    struct.pack_into("!H", f, ETH + 2, 19)
    c.append(drop("ipv4_bad_length_short", "total length 19 < IHL x 4",
                  fr.fix_ip4_csum(f), "ipv4_bad_length"))
    f = bytearray(good4)
    f[ETH + 10] ^= 0x5A
    c.append(drop("ipv4_bad_checksum", "header checksum corrupted", f, "ipv4_bad_checksum"))
    f = bytearray(good4[:ETH + 20] + b"\x01\x01\x01\x01" + good4[ETH + 20:])
    f[ETH] = 0x46
    struct.pack_into("!H", f, ETH + 2, len(f) - ETH)
    c.append(drop("ipv4_options", "IHL 6 (four NOP options), checksum valid",
                  fr.fix_ip4_csum(f), "ipv4_options"))
    c.append(drop("ipv6_truncated", "39 bytes of IPv6 header", good6[:ETH + 39],
                  "ipv6_truncated"))
    f = bytearray(good6)
    f[ETH] = 0x40 | (f[ETH] & 0x0F)
    c.append(drop("ipv6_bad_version", "IPv6 EtherType, version 4", f, "ipv6_bad_version"))
    f = bytearray(good6)
    struct.pack_into("!H", f, ETH + 4, len(f) - ETH - 40 + 1)
    c.append(drop("ipv6_bad_length", "payload length one byte past the frame", f,
                  "ipv6_bad_length"))
    a6, p6 = kaddr(W, 2)
    for name, ext in [("ipv6_ext_dstopt", IPv6ExtHdrDestOpt()),
                      ("ipv6_ext_routing", IPv6ExtHdrRouting())]:
        pkt = (Ether(src=PEER_MAC, dst=OWN_MAC) / IPv6(src=w.CLIENT6, dst=a6) / ext /
               UDP(sport=w.CPORT, dport=p6) / Raw(P64))
        c.append(drop(name, "IPv6 %s header before UDP" % ext.name, bytes(pkt),
                      "ipv6_ext_header"))
    f = bytearray(good4[:ETH + 24])
    struct.pack_into("!H", f, ETH + 2, 24)
    c.append(drop("udp_truncated", "IPv4 payload of 4 bytes, protocol UDP",
                  fr.fix_ip4_csum(f), "udp_truncated"))
    f = bytearray(good4)
    struct.pack_into("!H", f, ETH + 24, len(f) - ETH - 20 - 1)
    c.append(drop("udp_bad_length_v4", "UDP length one less than the IP payload", f,
                  "udp_bad_length"))
    f = bytearray(good4)
    struct.pack_into("!H", f, ETH + 24, 7)
    c.append(drop("udp_bad_length_below_8", "UDP length 7", f, "udp_bad_length"))
    f = bytearray(good6)
    struct.pack_into("!H", f, ETH + 44, len(f) - ETH - 40 + 2)
    c.append(drop("udp_bad_length_v6", "UDP length past the IPv6 payload", f,
                  "udp_bad_length"))
    f = bytearray(good4)
    f[ETH + 26] ^= 0x01
    c.append(drop("udp_bad_checksum_v4", "UDP checksum off by one bit", f,
                  "udp_bad_checksum"))
    f = bytearray(good6)
    f[ETH + 46] ^= 0x10
    c.append(drop("udp_bad_checksum_v6", "UDP checksum corrupted over IPv6", f,
                  "udp_bad_checksum"))
    addr6, port6 = kaddr(W, 2)
    c.append(drop("udp_zero_checksum_v6", "UDP checksum 0 is invalid over IPv6",
                  fr.udp_frame(w.CLIENT6, w.CPORT, addr6, port6, P64, udp_chksum=0),
                  "udp_bad_checksum"))
    return c


def _tun(W, session_id, kite_id, payload=P64, client=None, **kw):
    addr = W.kites[kite_id]["addr"] if kite_id in W.kites else "198.51.100.10"
    if client is None:
        client = w.CLIENT4 if vl.family_of(addr) == 4 else w.CLIENT6
    return W.tunnel(session_id, kite_id, client, w.CPORT, payload, **kw)


def _raw_tunnel(W, session_id, data):
    s = W.sessions[session_id]
    return fr.udp_frame(s["connector_addr"], s["connector_port"], s["local_addr"],
                        s["local_port"], data, src_mac=fr.GW_MAC)


def tunnel_cases(W):
    c = []
    good = _tun(W, w.S1, 1)
    data = good[ETH + 28:]
    c.append(drop("tunnel_truncated_3", "3-byte tunnel frame", _raw_tunnel(W, w.S1, data[:3]),
                  "tunnel_truncated"))
    c.append(drop("tunnel_truncated_39", "DATA frame of 39 bytes",
                  _raw_tunnel(W, w.S1, data[:39]), "tunnel_truncated"))
    c.append(drop("tunnel_bad_magic", "first byte 0x4a", _raw_tunnel(W, w.S1, b"\x4a" + data[1:]),
                  "tunnel_bad_magic"))
    c.append(drop("tunnel_bad_version", "DATA frame of version 2",
                  _tun(W, w.S1, 1, version=2), "tunnel_bad_version"))
    c.append(drop("tunnel_unknown_session_slot", "no session in that slot",
                  _tun(W, w.NO_SLOT, 1, session_via=w.S1), "tunnel_unknown_session"))
    c.append(drop("tunnel_unknown_session_stale", "slot holds another generation",
                  _tun(W, w.STALE3, 5, session_via=w.S3), "tunnel_unknown_session"))
    c.append(drop("tunnel_unknown_session_down", "session S4 is down",
                  _tun(W, w.S4, 7), "tunnel_unknown_session"))
    c.append(drop("tunnel_wrong_source_port", "connector port differs",
                  _tun(W, w.S1, 1, sport=40009), "tunnel_wrong_source"))
    c.append(drop("tunnel_wrong_source_addr", "connector address differs",
                  _tun(W, w.S1, 1, src="203.0.113.99"), "tunnel_wrong_source"))
    c.append(drop("tunnel_wrong_source_family", "S1's frame arriving over IPv6",
                  _tun(W, w.S1, 1, src="2001:db8:c0::7", dst=w.OWN6),
                  "tunnel_wrong_source"))
    c.append(drop("tunnel_bad_family_5", "client_family 5", _tun(W, w.S1, 1, client_family=5),
                  "tunnel_bad_family"))
    c.append(drop("tunnel_bad_family_unmapped", "family 4 with an address not IPv4-mapped",
                  _tun(W, w.S1, 1, client_addr16=vl.addr16(w.CLIENT6), client_family=4),
                  "tunnel_bad_family"))
    flipped = _cookie(W, 1, w.CLIENT4, w.KEY_EPOCH, w.KEY_EPOCH & 1) ^ 1
    c.append(drop("tunnel_bad_cookie", "cookie with its low bit flipped",
                  _tun(W, w.S1, 1, cookie=flipped), "tunnel_bad_cookie"))
    c.append(drop("tunnel_bad_cookie_old_epoch", "epoch 5 (two back), cookie valid for key 1",
                  _tun(W, w.S1, 1, epoch=w.KEY_EPOCH - 2), "tunnel_bad_cookie"))
    c.append(drop("tunnel_bad_cookie_future_epoch", "epoch 8 (ahead), cookie valid for key 0",
                  _tun(W, w.S1, 1, epoch=w.KEY_EPOCH + 1), "tunnel_bad_cookie"))
    c.append(drop("tunnel_bad_cookie_other_key", "epoch 7 header, cookie made with key 0",
                  _tun(W, w.S1, 1, cookie=_cookie(W, 1, w.CLIENT4, w.KEY_EPOCH, 0)),
                  "tunnel_bad_cookie"))
    c.append(drop("tunnel_kite_not_in_session", "kite 2 is not served by S1",
                  _tun(W, w.S1, 2, client=w.CLIENT6), "tunnel_kite_not_in_session"))
    c.append(drop("tunnel_kite_zero", "kite id 0", _tun(W, w.S1, 0),
                  "tunnel_kite_not_in_session"))
    c.append(drop("tunnel_kite_out_of_range", "kite id KP_MAX_KITES",
                  _tun(W, w.S1, W.abi["KP_MAX_KITES"]), "tunnel_kite_not_in_session"))
    c.append(drop("tunnel_kite_empty_slot", "kite id 999 (empty slot)", _tun(W, w.S1, 999),
                  "tunnel_kite_not_in_session"))
    c.append(drop("tunnel_kite_family_mismatch", "IPv4 client for IPv6 kite 2",
                  _tun(W, w.S2, 2, client=w.CLIENT4), "tunnel_bad_family", 2))
    for name, client, kite in [("tunnel_bogon_client_loopback", "127.0.0.1", 1),
                               ("tunnel_bogon_client_own", w.OWN4, 1),
                               ("tunnel_bogon_client_prefix", "192.0.2.200", 1),
                               ("tunnel_bogon_client_multicast", "224.0.0.5", 1),
                               ("tunnel_bogon_client_unspec6", "::", 2),
                               ("tunnel_bogon_client_own6", w.OWN6, 2),
                               ("tunnel_bogon_client_prefix6", "2001:db8:bad::9", 2)]:
        sess = w.S1 if kite == 1 else w.S2
        c.append(drop(name, "reply toward %s" % client, _tun(W, sess, kite, client=client),
                      "tunnel_bogon_client", kite))
    c.append(drop("dec_kite_disabled", "reply for disabled kite 6", _tun(W, w.S1, 6),
                  "kite_disabled", 6))
    c.append(drop("dec_quota_exhausted", "reply for kite 8, no credit left", _tun(W, w.S1, 8),
                  "quota_exhausted", 8))
    c.append(drop("dec_rate_packets", "reply for kite 10, one token short", _tun(W, w.S1, 10),
                  "rate_packets", 10))
    c.append(drop("dec_rate_bits", "100-byte reply for kite 12, 799 bits",
                  _tun(W, w.S1, 12, payload_bytes(100, 15)), "rate_bits", 12))
    return c


def _cookie(W, kite_id, client, epoch, key_index):
    k0, k1 = W.keys[key_index]
    mac_input = struct.pack("!IHBB16s", kite_id, w.CPORT, vl.family_of(client), epoch,
                            vl.addr16(client))
    return vl.siphash24(k0, k1, mac_input)


def exception_cases(W):
    c = []
    a1, p1 = kaddr(W, 1)
    a6, p6 = kaddr(W, 2)
    c.append(exc("exc_arp", "ARP request for the front-end",
                 Ether(src=PEER_MAC, dst="ff:ff:ff:ff:ff:ff") /
                 ARP(op=1, hwsrc=PEER_MAC, psrc=w.CLIENT4, pdst=w.OWN4)))
    c.append(exc("exc_lldp", "LLDP EtherType 0x88cc",
                 Ether(src=PEER_MAC, dst="01:80:c2:00:00:0e", type=0x88CC) / Raw(bytes(46))))
    c.append(exc("exc_icmp_echo", "ICMP echo to the front-end",
                 Ether(src=PEER_MAC, dst=OWN_MAC) / IP(src=w.CLIENT4, dst=w.OWN4) /
                 ICMP(id=1, seq=1) / Raw(payload_bytes(32))))
    c.append(exc("exc_icmpv6_echo", "ICMPv6 echo to the front-end",
                 Ether(src=PEER_MAC, dst=OWN_MAC) / IPv6(src=w.CLIENT6, dst=w.OWN6) /
                 ICMPv6EchoRequest(id=1, seq=1, data=payload_bytes(32))))
    c.append(exc("exc_tcp_to_kite", "TCP SYN to a kite address",
                 Ether(src=PEER_MAC, dst=OWN_MAC) / IP(src=w.CLIENT4, dst=a1) /
                 TCP(sport=w.CPORT, dport=p1, flags="S")))
    frag = (Ether(src=PEER_MAC, dst=OWN_MAC) / IP(src=w.CLIENT4, dst=a1, flags="MF", id=77) /
            UDP(sport=w.CPORT, dport=p1, len=8 + 600, chksum=0x1234) / Raw(payload_bytes(256)))
    c.append(exc("exc_ipv4_first_fragment", "IPv4 UDP first fragment (MF) to a kite", frag))
    c.append(exc("exc_ipv4_later_fragment", "IPv4 fragment at offset 264 to a kite",
                 Ether(src=PEER_MAC, dst=OWN_MAC) /
                 IP(src=w.CLIENT4, dst=a1, proto=17, frag=33, id=77) / Raw(payload_bytes(344))))
    c.append(exc("exc_ipv6_fragment", "IPv6 fragment header to a kite",
                 Ether(src=PEER_MAC, dst=OWN_MAC) / IPv6(src=w.CLIENT6, dst=a6) /
                 IPv6ExtHdrFragment(m=1, id=0x1234, offset=0) /
                 UDP(sport=w.CPORT, dport=p6, len=8 + 600, chksum=0x1234) /
                 Raw(payload_bytes(256))))
    c.append(exc("exc_ipv6_hop_by_hop_mld", "MLD report behind a hop-by-hop header",
                 Ether(src=PEER_MAC, dst="33:33:00:00:00:16") /
                 IPv6(src="2001:db8:c1::44", dst="ff02::16", hlim=1) /
                 IPv6ExtHdrHopByHop(options=[RouterAlert(value=0)]) /
                 ICMPv6MLReport(mladdr="ff02::1:ff00:44")))
    hello = _hello(W)
    c.append(exc("exc_tunnel_hello", "HELLO control frame to tunnel port 7000",
                 fr.udp_frame("203.0.113.50", 41000, w.OWN4, 7000, hello, src_mac=fr.GW_MAC)))
    c.append(exc("exc_tunnel_hello_v6", "HELLO control frame to tunnel port 7001 over IPv6",
                 fr.udp_frame("2001:db8:c0::50", 41000, w.OWN6, 7001, hello,
                              src_mac=fr.GW_MAC)))
    hello2 = bytearray(hello)
    hello2[1] = 2
    c.append(exc("exc_tunnel_control_v2", "control frame of version 2: control plane decides",
                 fr.udp_frame("203.0.113.50", 41000, w.OWN4, 7000, bytes(hello2),
                              src_mac=fr.GW_MAC)))
    c.append(exc("exc_tunnel_short_control", "4-byte HEARTBEAT: type is checked before length",
                 fr.udp_frame("203.0.113.7", 40000, w.OWN4, 7000,
                              bytes([W.abi["KP_MAGIC"], 1, W.abi["KP_MSG_HEARTBEAT"], 0]),
                              src_mac=fr.GW_MAC)))
    c.append(exc("exc_arp_vlan", "ARP request inside an 802.1Q tag",
                 Ether(src=PEER_MAC, dst="ff:ff:ff:ff:ff:ff") / Dot1Q(vlan=10) /
                 ARP(op=1, hwsrc=PEER_MAC, psrc=w.CLIENT4, pdst=w.OWN4)))
    c.append(exc("exc_fragment_with_options", "IPv4 fragment with options: fragments are "
                 "checked first", _with_options(bytes(frag))))
    c.append(exc("exc_udp_unknown_port", "UDP to a kite address, port with no kite",
                 fr.udp_frame(w.CLIENT4, w.CPORT, a1, 5999, P64)))
    c.append(exc("exc_udp_own_other_port", "UDP to the front-end, not a tunnel port",
                 fr.udp_frame(w.CLIENT4, w.CPORT, w.OWN4, 53, P64)))
    c.append(exc("exc_udp_kite_wrong_family", "IPv4-mapped form of kite 1 over IPv6",
                 fr.udp_frame(w.CLIENT6, w.CPORT, "::ffff:198.51.100.10", p1, P64)))
    return c


def _with_options(frame):
    """`frame` (IPv4, untagged) with four NOP option bytes; checksum fixed."""
    f = bytearray(frame[:ETH + 20] + b"\x01\x01\x01\x01" + frame[ETH + 20:])
    f[ETH] = 0x46
    struct.pack_into("!H", f, ETH + 2, struct.unpack_from("!H", f, ETH + 2)[0] + 4)
    return fr.fix_ip4_csum(f)


def order_cases(W):
    """Parse checks whose order matters (forwarding.md section 1, step 4)."""
    c = []
    a1, p1 = kaddr(W, 1)
    icmp = bytes(Ether(src=PEER_MAC, dst=OWN_MAC) / IP(src=w.CLIENT4, dst=w.OWN4) /
                 ICMP(id=2, seq=2) / Raw(payload_bytes(16)))
    c.append(drop("ipv4_options_before_protocol", "ICMP with IP options: options are "
                  "dropped before the protocol is looked at", _with_options(icmp),
                  "ipv4_options"))
    frag = bytearray(bytes(Ether(src=PEER_MAC, dst=OWN_MAC) /
                           IP(src=w.CLIENT4, dst=a1, flags="MF", id=78) /
                           UDP(sport=w.CPORT, dport=p1, len=8 + 600, chksum=0x1234) /
                           Raw(payload_bytes(256))))
    frag[ETH + 11] ^= 0x20
    c.append(drop("ipv4_checksum_before_fragment", "fragment with a bad header checksum",
                  frag, "ipv4_bad_checksum"))
    return c


def _hello(W):
    abi = W.abi
    body = struct.pack("!BBBBHH", abi["KP_MAGIC"], abi["KP_PROTO_VERSION"],
                       abi["KP_MSG_HELLO"], 0, 0x0101, 1500)
    body += payload_bytes(abi["KP_NONCE_LEN"], 20) + payload_bytes(abi["KP_PUBKEY_LEN"], 21)
    return body + bytes(abi["KP_HELLO_MIN_LEN"] - len(body))
