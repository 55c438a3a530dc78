"""A second, byte-level reading of docs/forwarding.md, used to cross-check
every generated case.

The cases are written by hand (a verdict per case) and their expected frames
are built with scapy; this module instead walks the frame the way a fast path
would (struct unpacking, its own checksums, no scapy) and returns the verdict,
drop reason, charged kite and transmitted bytes.  gen_vectors.py refuses to
write a case the two disagree on, so a broken input (say, a malformed frame
that trips an earlier check than the one it names) cannot slip into the file.
"""

import struct

import vectorlib as vl

LOOPBACK4 = vl.prefix16("127.0.0.0/8")
MCAST4 = vl.prefix16("224.0.0.0/4")
MCAST6 = (bytes([0xFF]) + bytes(15), 8)
MAPPED = (bytes(10) + b"\xff\xff" + bytes(4), 96)
UNSPEC4 = vl.addr16("0.0.0.0")


class Drop(Exception):
    def __init__(self, reason, kite_id=0):
        super().__init__(reason)
        self.reason, self.kite_id = reason, kite_id


class Exc(Exception):
    pass


def csum16(data, start=0):
    if len(data) % 2:
        data += b"\x00"
    s = start + sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def udp_csum(fam, src16, dst16, udp):
    if fam == 4:
        pseudo = src16[12:] + dst16[12:] + struct.pack("!BBH", 0, 17, len(udp))
    else:
        pseudo = src16 + dst16 + struct.pack("!IxxxB", len(udp), 17)
    return (~csum16(pseudo + udp)) & 0xFFFF


class Model:
    def __init__(self, abi, doc):
        self.abi, self.doc, cfg = abi, doc, doc["config"]
        self.cfg = cfg
        self.own = [vl.addr16(a) for a in cfg["own4"] + cfg["own6"]]
        self.bogons = [vl.prefix16(p) for p in cfg["bogons"]]
        self.keys = [(int(a, 16), int(b, 16)) for a, b in cfg["cookie_keys"]]
        self.kites = {(vl.addr16(k["addr"]), k["port"], vl.family_of(k["addr"])): k
                      for k in doc["kites"]}
        self.kite_by_id = {k["kite_id"]: k for k in doc["kites"]}
        mask = abi["KP_SESSION_INDEX_MASK"]
        self.slots = {s["session_id"] & mask: s for s in doc["sessions"]}
        self.mask = mask

    # -- helpers -----------------------------------------------------------
    def bogon(self, a16):
        if a16 in self.own or a16 in (vl.addr16("::1"), bytes(16), UNSPEC4):
            return True
        if vl.in_prefix(a16, MAPPED) and (vl.in_prefix(a16, LOOPBACK4) or
                                           vl.in_prefix(a16, MCAST4)):
            return True
        return vl.in_prefix(a16, MCAST6) or any(vl.in_prefix(a16, p) for p in self.bogons)

    def live_session(self, sid):
        s = self.slots.get(sid & self.mask)
        return s if s and s["session_id"] == sid and s["state"] == "live" else None

    def police(self, kite, payload):
        if "quota" in kite["flags"]:
            credit = {c["kite_id"]: c["granted_bytes"] for c in self.doc["credit"]}
            if self.pol(kite)["used_bytes"] >= credit.get(kite["kite_id"], 0):
                raise Drop("quota_exhausted", kite["kite_id"])
        reason = vl.police(kite, dict(self.pol(kite)), self.doc["now_ns"], payload,
                           self.cfg["n_workers"])
        if reason:
            raise Drop(reason, kite["kite_id"])

    def pol(self, kite):
        for p in self.doc["police"]:
            if p["kite_id"] == kite["kite_id"]:
                return p
        return {"last_ns": 0, "pkt_tokens": 0, "bit_tokens": 0, "used_bytes": 0}

    def nexthop(self, rx, session, kite_id):
        if session is not None and session.get("nexthop_mac"):
            return vl.mac_bytes(session["nexthop_mac"])
        if self.cfg["gateway_mac_valid"] == 1:
            return vl.mac_bytes(self.cfg["gateway_mac"])
        if self.cfg["gateway_mac_valid"] == 2:
            return rx[6:12]
        raise Drop("no_nexthop", kite_id)

    def build(self, rx, l2len, dmac, fam, src16, dst16, sport, dport, payload):
        own = vl.mac_bytes(self.cfg["own_mac"])
        smac = rx[0:6] if own == bytes(6) else own
        eth = dmac + smac + rx[12:l2len - 2] + (b"\x08\x00" if fam == 4 else b"\x86\xdd")
        udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
        ck = udp_csum(fam, src16, dst16, udp) or 0xFFFF
        udp = udp[:6] + struct.pack("!H", ck) + udp[8:]
        if fam == 4:
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0,
                             src16[12:], dst16[12:])
            ip = ip[:10] + struct.pack("!H", (~csum16(ip)) & 0xFFFF) + ip[12:]
        else:
            ip = struct.pack("!IHBB16s16s", 6 << 28, len(udp), 17, 64, src16, dst16)
        return eth + ip + udp

    # -- the walk ------------------------------------------------------------
    def forward(self, rx):
        """Returns (verdict, reason, kite_id, output or None)."""
        try:
            return ("tx", "none") + self._forward(rx)
        except Drop as d:
            return ("drop", d.reason, d.kite_id, None)
        except Exc:
            return ("exception", "none", 0, None)

    def _forward(self, rx):
        if len(rx) < 14:
            raise Drop("eth_truncated")
        etype, l2len = struct.unpack_from("!H", rx, 12)[0], 14
        if etype == 0x88A8:
            raise Drop("vlan_stacked")
        if etype == 0x8100:
            if len(rx) < 18:
                raise Drop("vlan_truncated")
            etype, l2len = struct.unpack_from("!H", rx, 16)[0], 18
            if etype in (0x8100, 0x88A8):
                raise Drop("vlan_stacked")
        l3 = rx[l2len:]
        if etype == 0x0800:
            fam, src, dst, l4 = 4, *self._ipv4(l3)
        elif etype == 0x86DD:
            fam, src, dst, l4 = 6, *self._ipv6(l3)
        else:
            raise Exc()
        if len(l4) < 8:
            raise Drop("udp_truncated")
        sport, dport, ulen, ck = struct.unpack_from("!HHHH", l4)
        if ulen < 8 or ulen != len(l4):
            raise Drop("udp_bad_length")
        if not (fam == 4 and ck == 0):
            if ck == 0 or csum16(self._pseudo(fam, src, dst, l4) + l4) != 0xFFFF:
                raise Drop("udp_bad_checksum")
        payload = l4[8:]
        if dst in self.own and dport in self.cfg["tunnel_ports"]:
            return self._tunnel(rx, l2len, fam, src, sport, payload)
        kite = self.kites.get((dst, dport, fam))
        if kite is None:
            raise Exc()
        return self._kite(rx, l2len, kite, src, sport, payload)

    @staticmethod
    def _pseudo(fam, src, dst, l4):
        if fam == 4:
            return src[12:] + dst[12:] + struct.pack("!BBH", 0, 17, len(l4))
        return src + dst + struct.pack("!IxxxB", len(l4), 17)

    @staticmethod
    def _ipv4(l3):
        if len(l3) < 20:
            raise Drop("ipv4_truncated")
        if l3[0] >> 4 != 4:
            raise Drop("ipv4_bad_version")
        ihl = (l3[0] & 0xF) * 4
        if ihl < 20:
            raise Drop("ipv4_bad_ihl")
        tot = struct.unpack_from("!H", l3, 2)[0]
        if tot < ihl or tot > len(l3):
            raise Drop("ipv4_bad_length")
        if csum16(l3[:ihl]) != 0xFFFF:
            raise Drop("ipv4_bad_checksum")
        if struct.unpack_from("!H", l3, 6)[0] & 0x3FFF:
            raise Exc()
        if ihl > 20:
            raise Drop("ipv4_options")
        if l3[9] != 17:
            raise Exc()
        m = bytes(10) + b"\xff\xff"
        return m + l3[12:16], m + l3[16:20], l3[ihl:tot]

    @staticmethod
    def _ipv6(l3):
        if len(l3) < 40:
            raise Drop("ipv6_truncated")
        if l3[0] >> 4 != 6:
            raise Drop("ipv6_bad_version")
        plen, nh = struct.unpack_from("!HB", l3, 4)
        if plen > len(l3) - 40:
            raise Drop("ipv6_bad_length")
        if nh in (44, 0):
            raise Exc()
        if nh in (43, 50, 51, 60, 135, 139, 140):
            raise Drop("ipv6_ext_header")
        if nh != 17:
            raise Exc()
        return l3[8:24], l3[24:40], l3[40:40 + plen]

    def _kite(self, rx, l2len, kite, src, sport, payload):
        kid = kite["kite_id"]
        if self.bogon(src):
            raise Drop("bogon_source")
        if self.cfg["state"] == "closed":
            raise Drop("lame_duck_closed")
        if kite["state"] == "disabled":
            raise Drop("kite_disabled", kid)
        chash, best, best_score = vl.client_hash(src), None, -1
        for sid in kite["sessions"]:
            s = self.live_session(sid)
            if s is not None and vl.session_score(chash, sid) > best_score:
                best, best_score = s, vl.session_score(chash, sid)
        if best is None:
            raise Drop("kite_no_session", kid)
        self.police(kite, len(payload))
        cfam = vl.family_of(best["connector_addr"])
        outer = len(payload) + 40 + 8 + (20 if cfam == 4 else 40)
        if outer > (best["mtu"] or 1500):
            raise Drop("mtu_exceeded", kid)
        dmac = self.nexthop(rx, best, kid)
        hdr = vl.data_header(self.abi, best["session_id"], kid, sport,
                             4 if vl.in_prefix(src, MAPPED) else 6, self.cfg["key_epoch"],
                             src, keys=self.keys, flags=self.abi["KP_F_FROM_FRONTEND"])
        out = self.build(rx, l2len, dmac, cfam, vl.addr16(best["local_addr"]),
                         vl.addr16(best["connector_addr"]), best["local_port"],
                         best["connector_port"], hdr + payload)
        return kid, out

    def _tunnel(self, rx, l2len, fam, src, sport, data):
        abi = self.abi
        if len(data) < 4:
            raise Drop("tunnel_truncated")
        if data[0] != abi["KP_MAGIC"]:
            raise Drop("tunnel_bad_magic")
        if data[2] != abi["KP_MSG_DATA"]:
            raise Exc()
        if data[1] != abi["KP_PROTO_VERSION"]:
            raise Drop("tunnel_bad_version")
        if len(data) < 40:
            raise Drop("tunnel_truncated")
        sid, kid, cport, cfam, epoch = struct.unpack_from("!IIHBB", data, 4)
        caddr, cookie = data[16:32], struct.unpack_from("<Q", data, 32)[0]
        s = self.live_session(sid)
        if s is None:
            raise Drop("tunnel_unknown_session")
        if (vl.addr16(s["connector_addr"]) != src or s["connector_port"] != sport or
                vl.family_of(s["connector_addr"]) != fam):
            raise Drop("tunnel_wrong_source")
        if cfam not in (4, 6) or (cfam == 4 and not vl.in_prefix(caddr, MAPPED)):
            raise Drop("tunnel_bad_family")
        k0, k1 = self.keys[epoch & 1]
        if ((self.cfg["key_epoch"] - epoch) & 0xFF) > 1 or \
                vl.siphash24(k0, k1, vl.cookie_input(abi, data[8:32])) != cookie:
            raise Drop("tunnel_bad_cookie")
        kite = self.kite_by_id.get(kid)
        if not (1 <= kid < abi["KP_MAX_KITES"]) or kite is None or sid not in kite["sessions"]:
            raise Drop("tunnel_kite_not_in_session")
        if vl.family_of(kite["addr"]) != cfam:
            raise Drop("tunnel_bad_family", kid)
        if self.bogon(caddr):
            raise Drop("tunnel_bogon_client", kid)
        if self.cfg["state"] == "closed":
            raise Drop("lame_duck_closed", kid)
        if kite["state"] == "disabled":
            raise Drop("kite_disabled", kid)
        payload = data[40:]
        self.police(kite, len(payload))
        dmac = self.nexthop(rx, None, kid)
        out = self.build(rx, l2len, dmac, cfam, vl.addr16(kite["addr"]), caddr,
                         kite["port"], cport, payload)
        return kid, out
