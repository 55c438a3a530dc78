/* kp_tables.h - the fast path's tables: keys, values, per-core state, config.
 *
 * API: the layouts both fast paths (C++ core and XDP program) read, and the
 * control socket carries.  Kite ids and session ids index dense arrays:
 *   - kite_id   in [1, KP_MAX_KITES): index into the kite array; 0 = none.
 *   - session_id: low KP_SESSION_INDEX_BITS bits index the session array, the
 *     high bits are a generation that changes each time a slot is reused, so
 *     a stale id never matches a new session.  0 = none.
 * The kite hash maps (public address, UDP port) -> kite_id.
 */
#ifndef KP_ABI_TABLES_H
#define KP_ABI_TABLES_H

#include "kp_counters.h"
#include "kp_types.h"

#define KP_MAX_KITES (1u << 20)    /* 1,048,576 kite slots */
#define KP_MAX_SESSIONS (1u << 17) /* 131,072 session slots */
#define KP_SESSION_INDEX_BITS 17u
#define KP_SESSION_INDEX_MASK (KP_MAX_SESSIONS - 1u)
#define KP_MAX_KITE_SESSIONS 6u    /* live backend sessions per kite */
#define KP_MAX_TUNNEL_PORTS 8u
#define KP_MAX_OWN_ADDRS 8u        /* per family */
#define KP_MAX_BOGONS 16u          /* per family */
#define KP_MAX_WORKERS 64u

/* Key of the kite hash: the kite's public address and UDP port. */
struct kp_kite_key {
	__u8 addr[16]; /* IPv6, or IPv4-mapped IPv6 */
	__be16 port;
	__u8 family; /* KP_AF_INET / KP_AF_INET6 */
	__u8 pad;    /* zero */
};
KP_STATIC_ASSERT(sizeof(struct kp_kite_key) == 20, "kp_kite_key");

enum kp_kite_state {
	KP_KITE_EMPTY = 0,
	KP_KITE_LIVE = 1,
	KP_KITE_DISABLED = 2, /* quota, policy or operator: drop, counted */
};

#define KP_KITE_F_QUOTA 0x0001u /* quota enforced: needs per-core credit */

/* Kite value, one cache line. */
struct kp_kite {
	struct kp_kite_key key; /*  0: public address and port */
	__u32 kite_id;          /* 20 */
	__u8 state;             /* 24: enum kp_kite_state */
	__u8 n_sessions;        /* 25: valid entries in sessions[] */
	__u16 flags;            /* 26: KP_KITE_F_* */
	__u32 rate_pps;         /* 28: packets/s for the whole kite, 0 = unlimited */
	__u32 rate_kbps;        /* 32: kilobits/s (IP bytes) for the whole kite, 0 = unlimited */
	__u16 burst_ms;         /* 36: bucket depth in milliseconds of rate */
	__u16 reserved;         /* 38 */
	__u32 sessions[KP_MAX_KITE_SESSIONS]; /* 40: live backend session ids */
};
KP_STATIC_ASSERT(sizeof(struct kp_kite) == 64, "kp_kite is one cache line");

enum kp_session_state {
	KP_SESSION_EMPTY = 0,
	KP_SESSION_LIVE = 1,
	KP_SESSION_DOWN = 2, /* known, but carries nothing */
};

#define KP_SESSION_F_NEXTHOP 0x0001u /* nexthop_mac is valid for this session */

/* Session value: where a connector's tunnel ends, one cache line. */
struct kp_session {
	__u32 session_id;         /*  0: full id (generation | index) */
	__u8 state;               /*  4: enum kp_session_state */
	__u8 family;              /*  5: connector's outer family */
	__be16 connector_port;    /*  6: connector's public (NAT) UDP port */
	__u8 connector_addr[16];  /*  8: connector's public (NAT) address */
	__u8 local_addr[16];      /* 24: front-end tunnel address it talks to */
	__be16 local_port;        /* 40: front-end tunnel port it talks to */
	__u16 mtu;                /* 42: largest outer IP packet toward the connector */
	__u8 nexthop_mac[6];      /* 44: next hop toward the connector, if flagged */
	__u16 flags;              /* 50: KP_SESSION_F_* */
	__u8 reserved[12];        /* 52 */
};
KP_STATIC_ASSERT(sizeof(struct kp_session) == 64, "kp_session is one cache line");

/* One IP prefix, for bogon lists. */
struct kp_prefix {
	__u8 addr[16]; /* IPv4-mapped for IPv4 */
	__u8 len;      /* prefix length in bits of the 128-bit form */
	__u8 pad[3];
};
KP_STATIC_ASSERT(sizeof(struct kp_prefix) == 20, "kp_prefix");

enum kp_frontend_state {
	KP_FE_SERVING = 0,
	KP_FE_LAME_DUCK = 1, /* forwarding, refusing new registrations (control plane) */
	KP_FE_CLOSED = 2,    /* past the deadline: drop kite traffic */
};

/* Whole-front-end configuration, read-mostly, swapped atomically. */
struct kp_config {
	__u32 generation;       /*   0: bumped by each change */
	__u8 state;             /*   4: enum kp_frontend_state */
	__u8 key_epoch;         /*   5: current cookie key epoch (low bit picks key) */
	__u8 gateway_mac_valid; /*   6 */
	__u8 n_workers;         /*   7: cores sharing each kite's rate */
	__u8 gateway_mac[6];    /*   8: next hop for everything not flagged per session */
	__u8 own_mac[6];        /*  14: source MAC of what we transmit */
	__u8 pad0[4];           /*  20 */
	__u64 cookie_keys[2][2];/*  24: SipHash keys k0,k1 by (epoch & 1) */
	__be16 tunnel_ports[KP_MAX_TUNNEL_PORTS]; /* 56 */
	__u8 n_tunnel_ports;    /*  72 */
	__u8 n_own4;            /*  73 */
	__u8 n_own6;            /*  74 */
	__u8 n_bogons;          /*  75 */
	__u8 own4[KP_MAX_OWN_ADDRS][4];   /*  76 */
	__u8 own6[KP_MAX_OWN_ADDRS][16];  /* 108 */
	struct kp_prefix bogons[KP_MAX_BOGONS]; /* 236 */
	__u8 reserved[4];       /* 556 */
};
KP_STATIC_ASSERT(KP_OFFSETOF(struct kp_config, cookie_keys) == 24, "kp_config keys");
KP_STATIC_ASSERT(KP_OFFSETOF(struct kp_config, tunnel_ports) == 56, "kp_config ports");
KP_STATIC_ASSERT(KP_OFFSETOF(struct kp_config, bogons) == 236, "kp_config bogons");
KP_STATIC_ASSERT(sizeof(struct kp_config) == 560, "kp_config size");

/* Per-core, per-kite policing state: written only by its own core. */
struct kp_kite_police {
	__u64 last_ns;     /* time of the last refill */
	__u64 pkt_tokens;  /* packets x 2^16 */
	__u64 bit_tokens;  /* bits */
	__u64 used_bytes;  /* quota bytes consumed on this core, both directions */
};
KP_STATIC_ASSERT(sizeof(struct kp_kite_police) == 32, "kp_kite_police");

/* Per-core, per-kite quota credit: written only by the control plane.  The
 * core may spend while used_bytes < granted_bytes. */
struct kp_kite_credit {
	__u64 granted_bytes;
};

/* Per-core, per-kite counters (enum kp_kite_counter_id), one cache line. */
struct kp_kite_counters {
	__u64 v[8];
};
KP_STATIC_ASSERT(sizeof(struct kp_kite_counters) == 64, "kp_kite_counters");
KP_STATIC_ASSERT(KP_KCTR_MAX <= 8, "per-kite counters fit one cache line");

#endif /* KP_ABI_TABLES_H */
