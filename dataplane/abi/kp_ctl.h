/* kp_ctl.h - control socket protocol v1 (data plane <-> control plane).
 *
 * API: a Unix SOCK_SEQPACKET socket served by kiteplane-dataplane in both of
 * its modes (DPDK and XDP); the control plane is its only client.  Every
 * message is one datagram: struct kp_ctl_hdr then a body whose layout the
 * type fixes.  Integers are in host byte order (the socket never leaves the
 * machine); table entries are the structs of kp_tables.h, byte-for-byte.
 *
 * Each request gets exactly one reply with the same type and seq; reply
 * status is 0 or a negative errno (-EINVAL malformed, -ENOSPC table full,
 * -ENOENT unknown id, -EPROTO version mismatch, -E2BIG batch too large).
 * Batched requests are applied all-or-nothing per message and are visible to
 * the fast path atomically per entry; after a reply, every worker sees the
 * change (the data plane waits for an RCU grace period before replying to
 * deletes, so a deleted slot is never reused under a reader).
 */
#ifndef KP_ABI_CTL_H
#define KP_ABI_CTL_H

#include "kp_counters.h"
#include "kp_tables.h"
#include "kp_types.h"

#define KP_CTL_VERSION 1u
#define KP_CTL_MAX_MSG (64u * 1024u) /* largest datagram either way */

enum kp_ctl_type {
	KP_CTL_HELLO = 1,          /* req: kp_ctl_hello; rep: kp_ctl_hello_reply */
	KP_CTL_CONFIG_SET = 2,     /* req: struct kp_config; rep: empty */
	KP_CTL_CONFIG_GET = 3,     /* req: empty; rep: struct kp_config */
	KP_CTL_KITE_UPSERT = 4,    /* req: kp_ctl_batch + struct kp_kite[count] */
	KP_CTL_KITE_DELETE = 5,    /* req: kp_ctl_batch + __u32 kite_id[count] */
	KP_CTL_SESSION_UPSERT = 6, /* req: kp_ctl_batch + struct kp_session[count] */
	KP_CTL_SESSION_DELETE = 7, /* req: kp_ctl_batch + __u32 session_id[count] */
	KP_CTL_CREDIT_GRANT = 8,   /* req: kp_ctl_batch + struct kp_ctl_credit[count] */
	KP_CTL_SET_STATE = 9,      /* req: kp_ctl_state; rep: empty */
	KP_CTL_GLOBAL_COUNTERS = 10, /* req: empty; rep: kp_ctl_global_counters */
	KP_CTL_KITE_COUNTERS = 11, /* req: kp_ctl_range; rep: kp_ctl_range + kp_ctl_kite_stats[count] */
	KP_CTL_KITE_DUMP = 12,     /* req: kp_ctl_range; rep: kp_ctl_range + struct kp_kite[count] */
	KP_CTL_SESSION_DUMP = 13,  /* req: kp_ctl_range; rep: kp_ctl_range + struct kp_session[count] */
	KP_CTL_RESYNC_BEGIN = 14,  /* req: empty: start marking entries */
	KP_CTL_RESYNC_END = 15,    /* req: empty: delete every entry not upserted since BEGIN */
};

struct kp_ctl_hdr {
	__u16 type;    /* enum kp_ctl_type */
	__u16 version; /* KP_CTL_VERSION */
	__u32 len;     /* whole message, header included */
	__u32 seq;     /* chosen by the requester, echoed */
	__s32 status;  /* replies: 0 or -errno; requests: 0 */
};
KP_STATIC_ASSERT(sizeof(struct kp_ctl_hdr) == 16, "kp_ctl_hdr");

enum kp_dp_mode { KP_DP_DPDK = 1, KP_DP_XDP = 2 };

struct kp_ctl_hello {
	__u32 ctl_version; /* KP_CTL_VERSION */
	__u32 reserved;
	char client[32];   /* NUL-terminated name of the peer, for logs */
};

struct kp_ctl_hello_reply {
	__u32 ctl_version;
	__u32 mode;         /* enum kp_dp_mode */
	__u32 n_workers;
	__u32 max_kites;
	__u32 max_sessions;
	__u32 n_drop_reasons; /* KP_DROP_MAX of the data plane's build */
	__u32 n_counters;     /* KP_CTR_MAX */
	__u32 n_kite_counters;/* KP_KCTR_MAX */
	__u64 uptime_ns;
	__u32 config_generation;
	__u32 headless_since_s; /* 0 = a control plane has been connected all along */
};

/* Batch prefix of upsert/delete/grant requests. */
struct kp_ctl_batch {
	__u32 count;
	__u32 reserved;
};

/* Range prefix of dumps and counter reads: request asks for ids in
 * [first, first + count); the reply's range says which ids it covers and
 * next is where to continue (0 = done). Only non-empty entries are listed. */
struct kp_ctl_range {
	__u32 first;
	__u32 count;
	__u32 next;
	__u32 reserved;
};

/* Quota credit: adds bytes to the kite's granted credit on each core. */
struct kp_ctl_credit {
	__u32 kite_id;
	__u32 reserved;
	__u64 bytes_per_core;
};

struct kp_ctl_state {
	__u32 state;      /* enum kp_frontend_state */
	__u32 reserved;
};

/* Counters summed over every core. */
struct kp_ctl_global_counters {
	__u64 counters[KP_CTR_MAX];
	__u64 drops[KP_DROP_MAX];
};

/* One kite's counters summed over every core, plus quota spent. */
struct kp_ctl_kite_stats {
	__u32 kite_id;
	__u32 reserved;
	__u64 v[8];        /* enum kp_kite_counter_id */
	__u64 used_bytes;  /* quota bytes spent, all cores */
};
KP_STATIC_ASSERT(sizeof(struct kp_ctl_kite_stats) == 80, "kp_ctl_kite_stats");

#endif /* KP_ABI_CTL_H */
