"""The tables every golden-vector file is written against (FORMAT.md layout).

One base world: a front-end with one IPv4 and one IPv6 address, two tunnel
ports, cookie keys for both key parities, five sessions (IPv4 and IPv6
connectors, one down, one with its own next-hop MAC, generations in the high
bits) and kites that exercise every per-kite rule (multi-session rendezvous,
disabled, no session, quota, packet and bit rates).  Other vector files take
this world and change the config (front-end state, next-hop mode).
Documentation address ranges only.
"""

import copy

import frames as fr

NOW_NS = 5_000_000_000
MS = 1_000_000

OWN4 = "198.51.100.1"
OWN6 = "2001:db8:f::1"
CLIENT4 = "192.0.2.33"
CLIENT6 = "2001:db8:c1::33"
CPORT = 33333
KEYS = [["0x0706050403020100", "0x0f0e0d0c0b0a0908"],   # key_epoch & 1 == 0
        ["0x1716151413121110", "0x1f1e1d1c1b1a1918"]]   # key_epoch & 1 == 1
KEY_EPOCH = 7


def sid(generation, index):
    """A full session id: generation above KP_SESSION_INDEX_BITS (17)."""
    return (generation << 17) | index


S1 = sid(1, 1)      # IPv4 connector
S2 = sid(1, 2)      # IPv6 connector
S3 = sid(2, 3)      # IPv4 connector, mtu 0 (= 1500)
S4 = sid(1, 4)      # down
S5 = sid(3, 5)      # IPv4 connector with its own next hop, mtu 1400
STALE3 = sid(5, 3)  # slot 3 holds S3: this id is stale
NO_SLOT = sid(1, 99)


def _session(session_id, connector, cport, local, lport, mtu=1500, state="live",
             nexthop=None):
    return {"session_id": session_id, "state": state, "connector_addr": connector,
            "connector_port": cport, "local_addr": local, "local_port": lport,
            "mtu": mtu, "nexthop_mac": nexthop}


def _kite(kite_id, addr, port, sessions, state="live", flags=(), rate_pps=0,
          rate_kbps=0, burst_ms=0):
    return {"kite_id": kite_id, "addr": addr, "port": port, "state": state,
            "flags": list(flags), "rate_pps": rate_pps, "rate_kbps": rate_kbps,
            "burst_ms": burst_ms, "sessions": list(sessions)}


def _police(kite_id, last_ns=0, pkt=0, bits=0, used=0):
    return {"kite_id": kite_id, "last_ns": last_ns, "pkt_tokens": pkt,
            "bit_tokens": bits, "used_bytes": used}


BASE = {
    "version": 1,
    "now_ns": NOW_NS,
    "n_workers": 1,
    "config": {
        "state": "serving",
        "key_epoch": KEY_EPOCH,
        "gateway_mac_valid": 1,
        "gateway_mac": fr.GW_MAC,
        "own_mac": fr.OWN_MAC,
        "n_workers": 1,
        "cookie_keys": KEYS,
        "tunnel_ports": [7000, 7001],
        "own4": [OWN4],
        "own6": [OWN6],
        "bogons": ["192.0.2.128/25", "2001:db8:bad::/48"],
    },
    "kites": [
        _kite(1, "198.51.100.10", 5000, [S1]),
        _kite(2, "2001:db8:f::10", 5000, [S2]),
        _kite(3, "198.51.100.11", 5000, [S2]),
        _kite(4, "2001:db8:f::11", 5000, [S1]),
        _kite(5, "198.51.100.12", 5000, [S3, STALE3, S4, S5]),
        _kite(6, "198.51.100.13", 5000, [S1], state="disabled"),
        _kite(7, "198.51.100.14", 5000, [S4]),
        _kite(8, "198.51.100.15", 5000, [S1], flags=["quota"]),
        _kite(9, "198.51.100.16", 5000, [S1], flags=["quota"]),
        _kite(10, "198.51.100.17", 5000, [S1], rate_pps=10, burst_ms=100),
        _kite(11, "198.51.100.18", 5000, [S1], rate_pps=10, burst_ms=100),
        _kite(12, "198.51.100.19", 5000, [S1], rate_kbps=8, burst_ms=100),
        _kite(13, "198.51.100.20", 5000, [S1], rate_pps=1000, rate_kbps=1000),
        _kite(14, "198.51.100.10", 5001, [S3]),
        _kite(15, OWN4, 6000, [S1]),               # on our own address, not a tunnel port
        _kite(16, "198.51.100.21", 7000, [S2]),    # tunnel port number, not our address
        _kite(17, "198.51.100.22", 5000, [S1], rate_pps=1, burst_ms=1000),
        _kite(18, "198.51.100.23", 5000, [S1], flags=["quota"], rate_pps=10),  # no credit entry
        _kite(19, "198.51.100.24", 5000, [S1], rate_pps=10, rate_kbps=8),
    ],
    "sessions": [
        _session(S1, "203.0.113.7", 40000, OWN4, 7000),
        _session(S2, "2001:db8:c0::7", 40001, OWN6, 7001),
        _session(S3, "203.0.113.8", 40002, OWN4, 7000, mtu=0),
        _session(S4, "203.0.113.9", 40003, OWN4, 7000, state="down"),
        _session(S5, "203.0.113.10", 40004, OWN4, 7001, mtu=1400, nexthop=fr.NH_MAC),
    ],
    "credit": [{"kite_id": 8, "granted_bytes": 1000},
               {"kite_id": 9, "granted_bytes": 1000}],
    "police": [
        _police(8, used=1000),                               # spent: no credit left
        _police(9, used=999),                                # one byte left: may spend
        _police(10, last_ns=NOW_NS - MS, pkt=64880),         # +655 -> 65535: short by 1
        _police(11, last_ns=NOW_NS - MS, pkt=64881),         # +655 -> 65536: exactly one
        _police(12, last_ns=NOW_NS - MS, bits=791),          # +8 -> 799 bits
        _police(17, last_ns=NOW_NS - 500 * MS),              # +half a packet at 1 pps
        _police(18, last_ns=NOW_NS),                         # empty bucket, no refill
        _police(19, last_ns=NOW_NS),                         # both buckets empty
    ],
}


def base_world():
    return copy.deepcopy(BASE)


def world_of(abi, doc):
    return fr.World(abi, doc["config"], doc["kites"], doc["sessions"])
