"""Vector files whose front-end config differs from vectors.json.

- vectors_closed.json: front-end CLOSED (past its lame-duck deadline).
- vectors_mirror.json: front-end in LAME_DUCK (still forwarding), next hop
  "mirror" (gateway_mac_valid 2) and own_mac all zero, so both MACs of what
  is sent come from the received frame.
- vectors_nonexthop.json: no gateway MAC (gateway_mac_valid 0): only sessions
  with their own next hop can be reached; everything else is no_nexthop.
- vectors_2workers.json: n_workers 2, so each core polices half a kite's rate
  (rounded down, at least 1).
"""

import frames as fr
import world as w
from cases_main import P64, client_to, drop, enc, exc, rendezvous_clients, tx
from cases_bad import _hello, _tun


def closed_cases(W):
    c = []
    c.append(drop("closed_encap", "client datagram while CLOSED", client_to(W, 1),
                  "lame_duck_closed"))
    c.append(drop("closed_encap_v6", "IPv6 client datagram while CLOSED", client_to(W, 2),
                  "lame_duck_closed"))
    c.append(drop("closed_encap_disabled_kite", "CLOSED is checked before the kite state",
                  client_to(W, 6), "lame_duck_closed"))
    c.append(drop("closed_bogon_first", "bogon source is checked before CLOSED",
                  fr.udp_frame("127.0.0.1", w.CPORT, "198.51.100.10", 5000, P64),
                  "bogon_source"))
    c.append(drop("closed_decap", "connector reply while CLOSED", _tun(W, w.S1, 1),
                  "lame_duck_closed", 1))
    c.append(drop("closed_decap_bad_cookie", "cookie is checked before CLOSED",
                  _tun(W, w.S1, 1, epoch=w.KEY_EPOCH - 2), "tunnel_bad_cookie"))
    c.append(exc("closed_tunnel_hello", "control frames still reach the control plane",
                 fr.udp_frame("203.0.113.50", 41000, w.OWN4, 7000, _hello(W),
                              src_mac=fr.GW_MAC)))
    return c


MIRROR_RX_DST = "02:00:00:00:00:02"


def mirror_cases(W):
    c = []
    for name, desc, kite, vlan in [
            ("mirror_encap_v4", "MACs swapped from the received frame", 1, None),
            ("mirror_encap_v6_vlan", "mirror with an 802.1Q tag, IPv6 connector", 2, (1, 33))]:
        client = w.CLIENT4 if kite == 1 else w.CLIENT6
        c.append(tx(name, desc, client_to(W, kite, vlan=vlan, dst_mac=MIRROR_RX_DST),
                    W.encap(kite, client, w.CPORT, P64, vlan, dst_mac=MIRROR_RX_DST), kite))
    _, via_s5, _ = rendezvous_clients(W)
    c.append(tx("mirror_encap_session_nexthop", "session next hop wins over mirror",
                client_to(W, 5, client=via_s5, dst_mac=MIRROR_RX_DST),
                W.encap(5, via_s5, w.CPORT, P64, dst_mac=MIRROR_RX_DST), 5))
    c.append(tx("mirror_decap_v4", "reply: destination is the tunnel frame's source MAC",
                _tun(W, w.S1, 1, dst_mac=MIRROR_RX_DST),
                W.decap(1, w.CLIENT4, w.CPORT, P64, dst_mac=MIRROR_RX_DST), 1))
    return c


def nonexthop_cases(W):
    c = []
    c.append(drop("nonexthop_encap", "no gateway MAC, session without next hop",
                  client_to(W, 1), "no_nexthop", 1))
    _, via_s5, _ = rendezvous_clients(W)
    c.append(enc(W, "nonexthop_encap_session_nexthop", "session S5 has its own next hop",
                 5, client=via_s5))
    c.append(drop("nonexthop_decap", "toward clients only the gateway MAC counts",
                  _tun(W, w.S5, 5), "no_nexthop", 5))
    c.append(drop("nonexthop_mtu_first", "mtu is checked before the next hop",
                  client_to(W, 1, fr.payload_bytes(1433)), "mtu_exceeded", 1))
    return c


def two_worker_cases(W):
    c = []
    c.append(drop("w2_rate_pps_share", "10 pps over 2 cores: 5 on this one, 1 ms refills 327 "
                  "tokens, 64881 + 327 < 65536", client_to(W, 11), "rate_packets", 11))
    c.append(drop("w2_rate_pps_share_decap", "same on the reply path", _tun(W, w.S1, 11),
                  "rate_packets", 11))
    c.append(drop("w2_rate_pps_floor", "1 pps over 2 cores is still 1 pps per core, not "
                  "unlimited", client_to(W, 17), "rate_packets", 17))
    c.append(enc(W, "w2_rate_fresh_bucket", "1000 pps / 1000 kbps over 2 cores, fresh bucket",
                 13))
    c.append(enc(W, "w2_rate_bits_share", "8 kbps over 2 cores: 4 bits per ms, 795 >= 792",
                 12, fr.payload_bytes(99, 8)))
    c.append(drop("w2_rate_bits_share_drop", "100 bytes need 800 bits, 795 in the bucket",
                  client_to(W, 12, fr.payload_bytes(100, 9)), "rate_bits", 12))
    return c


def _doc(abi, cases_fn, n_workers=1, **config):
    doc = w.base_world()
    doc["config"].update(config)
    doc["n_workers"] = doc["config"]["n_workers"] = n_workers
    W = w.world_of(abi, doc)
    doc["cases"] = cases_fn(W)
    return doc


def build_all(abi):
    return {
        "vectors_closed": _doc(abi, closed_cases, state="closed"),
        "vectors_mirror": _doc(abi, mirror_cases, state="lame_duck", gateway_mac_valid=2,
                               own_mac="00:00:00:00:00:00"),
        "vectors_nonexthop": _doc(abi, nonexthop_cases, gateway_mac_valid=0),
        "vectors_2workers": _doc(abi, two_worker_cases, n_workers=2),
    }
