"""Frame builders for the golden vectors: client datagrams, tunnel frames and
the encapsulated / decapsulated frames forwarding.md says a fast path sends.

Input frames are built with scapy and then, for the malformed cases, mutated
byte by byte.  Expected outputs are built with scapy too, which computes the
IP and UDP checksums (a computed UDP checksum of 0 goes out as 0xffff).
Everything here works from the "world" of one vector file (config, kites,
sessions) and from vectorlib; nothing is read from the fast-path code.
"""

import struct

from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Dot1Q, Ether
from scapy.packet import Raw

import vectorlib as vl

PEER_MAC = "02:00:00:00:00:aa"   # source MAC of what the front-end receives
OWN_MAC = "02:00:00:00:00:01"
GW_MAC = "02:00:00:00:00:fe"
NH_MAC = "02:00:00:00:00:5e"     # a session-specific next hop


def payload_bytes(n, seed=0):
    return bytes((i * 7 + seed * 13 + 1) & 0xFF for i in range(n))


def l2(src_mac, dst_mac, vlan=None):
    """Ethernet (and 802.1Q tag when `vlan` = (prio, vid))."""
    if vlan is None:
        return Ether(src=src_mac, dst=dst_mac)
    prio, vid = vlan
    return Ether(src=src_mac, dst=dst_mac) / Dot1Q(prio=prio, vlan=vid)


def ip_layer(src, dst, ttl=57, ip_id=0x1234, df=False):
    if vl.family_of(src) == 4:
        return IP(src=src, dst=dst, ttl=ttl, id=ip_id, flags="DF" if df else 0)
    return IPv6(src=src, dst=dst, hlim=ttl)


def udp_frame(src, sport, dst, dport, payload, vlan=None, src_mac=PEER_MAC,
              dst_mac=OWN_MAC, udp_chksum=None):
    """A well-formed UDP datagram in an Ethernet frame, as bytes."""
    udp = UDP(sport=sport, dport=dport)
    if udp_chksum is not None:
        udp.chksum = udp_chksum
    return bytes(l2(src_mac, dst_mac, vlan) / ip_layer(src, dst) / udp / Raw(payload))


def out_ip(src, dst):
    """Outer/decapsulated IP header exactly as forwarding.md fixes it."""
    if vl.family_of(src) == 4:
        return IP(src=src, dst=dst, tos=0, id=0, flags="DF", ttl=64, proto=17)
    return IPv6(src=src, dst=dst, tc=0, fl=0, nh=17, hlim=64)


def l2_offset(frame):
    return 18 if frame[12:14] == b"\x81\x00" else 14


def fix_ip4_csum(frame):
    """Recomputes the IPv4 header checksum in place (bytearray)."""
    off = l2_offset(frame)
    ihl = (frame[off] & 0x0F) * 4
    frame[off + 10:off + 12] = b"\x00\x00"
    s = 0
    for i in range(off, off + ihl, 2):
        s += (frame[i] << 8) | frame[i + 1]
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    frame[off + 10:off + 12] = struct.pack("!H", (~s) & 0xFFFF)
    return frame


class World:
    """One vector file's tables, with the lookups the semantics need."""

    def __init__(self, abi, config, kites, sessions):
        self.abi = abi
        self.config = config
        self.kites = {k["kite_id"]: k for k in kites}
        self.sessions = {s["session_id"]: s for s in sessions}
        self.keys = [(int(k0, 16), int(k1, 16)) for k0, k1 in config["cookie_keys"]]

    def slot(self, session_id):
        """The session in the slot that `session_id` indexes, if it is that id."""
        mask = self.abi["KP_SESSION_INDEX_MASK"]
        for s in self.sessions.values():
            if (s["session_id"] & mask) == (session_id & mask):
                return s if s["session_id"] == session_id else None
        return None

    def pick(self, kite, client):
        """Rendezvous pick over the kite's live sessions, or None."""
        chash = vl.client_hash(vl.addr16(client))
        best, best_score = None, -1
        for sid in kite["sessions"]:
            s = self.slot(sid)
            if s is None or s["state"] != "live":
                continue
            score = vl.session_score(chash, sid)
            if score > best_score:
                best, best_score = s, score
        return best

    def ranking(self, kite, client):
        """Every listed id by descending score (to pick interesting clients)."""
        chash = vl.client_hash(vl.addr16(client))
        return sorted(kite["sessions"], key=lambda sid: -vl.session_score(chash, sid))

    def macs(self, rx_src, rx_dst, session=None):
        """(dst, src) MACs of a transmitted frame, or None when unresolved."""
        cfg = self.config
        src = cfg["own_mac"] if cfg["own_mac"] != "00:00:00:00:00:00" else rx_dst
        if session is not None and session.get("nexthop_mac"):
            return session["nexthop_mac"], src
        if cfg["gateway_mac_valid"] == 1:
            return cfg["gateway_mac"], src
        if cfg["gateway_mac_valid"] == 2:
            return rx_src, src
        return None

    def encap(self, kite_id, client, cport, payload, vlan=None, src_mac=PEER_MAC,
              dst_mac=OWN_MAC):
        """Expected frame toward the connector for a client datagram."""
        kite = self.kites[kite_id]
        s = self.pick(kite, client)
        dmac, smac = self.macs(src_mac, dst_mac, s)
        hdr = vl.data_header(self.abi, s["session_id"], kite_id, cport,
                             vl.family_of(client), self.config["key_epoch"],
                             vl.addr16(client), keys=self.keys,
                             flags=self.abi["KP_F_FROM_FRONTEND"])
        pkt = (l2(smac, dmac, vlan) / out_ip(s["local_addr"], s["connector_addr"]) /
               UDP(sport=s["local_port"], dport=s["connector_port"]) / Raw(hdr + payload))
        return bytes(pkt)

    def tunnel(self, session_id, kite_id, client, cport, payload, vlan=None,
               epoch=None, src=None, sport=None, dport=None, dst=None,
               src_mac=GW_MAC, dst_mac=OWN_MAC, **hdr_overrides):
        """A DATA frame from a connector (session `session_id`) to the front-end.

        The outer addressing follows the session (or `session_via`'s when the
        id names no session); keyword overrides forge individual fields."""
        s = self.sessions.get(session_id) or self.sessions[hdr_overrides.pop("session_via")]
        epoch = self.config["key_epoch"] if epoch is None else epoch
        family = hdr_overrides.pop("client_family", vl.family_of(client))
        a16 = hdr_overrides.pop("client_addr16", vl.addr16(client))
        hdr = vl.data_header(self.abi, session_id, kite_id, cport, family, epoch, a16,
                             keys=self.keys, **hdr_overrides)
        return udp_frame(src or s["connector_addr"], sport or s["connector_port"],
                         dst or s["local_addr"], dport or s["local_port"],
                         hdr + payload, vlan=vlan, src_mac=src_mac, dst_mac=dst_mac)

    def decap(self, kite_id, client, cport, payload, vlan=None, src_mac=GW_MAC,
              dst_mac=OWN_MAC):
        """Expected frame toward the client for a connector's DATA frame."""
        kite = self.kites[kite_id]
        dmac, smac = self.macs(src_mac, dst_mac, None)
        pkt = (l2(smac, dmac, vlan) / out_ip(kite["addr"], client) /
               UDP(sport=kite["port"], dport=cport) / Raw(payload))
        return bytes(pkt)
