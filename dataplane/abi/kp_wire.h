/* kp_wire.h - the kite tunnel protocol v1 on the wire (docs/protocol.md).
 *
 * API: byte layouts of every fixed part of a tunnel frame.  Every tunnel frame
 * is one UDP datagram to or from a front-end tunnel port and starts with the
 * 4-byte struct kp_hdr.  DATA frames (type KP_MSG_DATA) are handled by the
 * fast paths; every other type is a control message handled by the control
 * plane on an ordinary UDP socket.  Multi-byte integers are big-endian unless
 * the type says otherwise (__le64 for the flow cookie, which is a SipHash
 * output serialised little-endian as SipHash defines it).
 */
#ifndef KP_ABI_WIRE_H
#define KP_ABI_WIRE_H

#include "kp_types.h"

#define KP_MAGIC 0x4bu /* 'K' */
#define KP_PROTO_VERSION 1u

/* Message types.  0x01..0x0f: fast-path frames; 0x10..0x7f: control. */
enum kp_msg_type {
	KP_MSG_DATA = 0x01,
	KP_MSG_HELLO = 0x10,           /* connector -> front-end, unauthenticated */
	KP_MSG_CHALLENGE = 0x11,       /* front-end -> connector, stateless */
	KP_MSG_REGISTER = 0x12,        /* connector -> front-end, proves the token */
	KP_MSG_REGISTER_RESULT = 0x13, /* front-end -> connector, per-kite results */
	KP_MSG_KITE_ADD = 0x14,        /* connector -> front-end, in session */
	KP_MSG_KITE_REMOVE = 0x15,     /* connector -> front-end, in session */
	KP_MSG_KITE_RESULT = 0x16,     /* front-end -> connector, in session */
	KP_MSG_HEARTBEAT = 0x20,       /* either way, in session */
	KP_MSG_HEARTBEAT_ACK = 0x21,   /* either way, in session */
	KP_MSG_RESUME = 0x22,          /* connector -> front-end, from a new address */
	KP_MSG_RESUME_ACK = 0x23,      /* front-end -> connector */
	KP_MSG_NOTICE = 0x30,          /* front-end -> connector, in session */
	KP_MSG_NOTICE_ACK = 0x31,      /* connector -> front-end, in session */
	KP_MSG_CLOSE = 0x3f,           /* either way, in session */
	KP_MSG_ERROR = 0x40,           /* front-end -> connector, unauthenticated, never larger than the request */
};

/* kp_hdr.flags bits */
#define KP_F_FROM_FRONTEND 0x01u /* set on frames sent by the front-end */

/* Common 4-byte prefix of every tunnel frame. */
struct kp_hdr {
	__u8 magic;   /* KP_MAGIC */
	__u8 version; /* KP_PROTO_VERSION */
	__u8 type;    /* enum kp_msg_type */
	__u8 flags;   /* KP_F_* */
};
KP_STATIC_ASSERT(sizeof(struct kp_hdr) == 4, "kp_hdr is 4 bytes");

/* DATA frame header, followed by the client's UDP payload, unchanged.
 *
 * Front-end -> connector: the front-end fills every field.  Connector ->
 * front-end: the connector echoes kite_id, client_port, client_family,
 * key_epoch, client_addr and cookie exactly as received for that client flow,
 * and sets session_id to its own session.
 *
 * The flow cookie is SipHash-2-4 under the front-end's cookie key number
 * (key_epoch & 1) over bytes [8, 32) of this header (kite_id, client_port,
 * client_family, key_epoch and client_addr, verbatim) when client_family is
 * KP_AF_INET6; when it is KP_AF_INET, over the 12 bytes [8, 16) || [28, 32)
 * (the same fields, the address as its 4 IPv4 bytes): two SipHash blocks
 * instead of four.  Bytes [16, 28) of an IPv4 client's address are then the
 * fixed IPv4-mapped prefix, which receivers check (tunnel_bad_family) before
 * the cookie. */
struct kp_data_hdr {
	struct kp_hdr h;     /*  0: type KP_MSG_DATA */
	__be32 session_id;   /*  4 */
	__be32 kite_id;      /*  8: MAC input starts here */
	__be16 client_port;  /* 12 */
	__u8 client_family;  /* 14: KP_AF_INET or KP_AF_INET6 */
	__u8 key_epoch;      /* 15: cookie key generation; low bit picks the key */
	__u8 client_addr[16];/* 16: IPv6, or IPv4-mapped IPv6 (::ffff:a.b.c.d) */
	__le64 cookie;       /* 32: MAC input ends before this field */
};
KP_STATIC_ASSERT(sizeof(struct kp_data_hdr) == 40, "kp_data_hdr is 40 bytes");
KP_STATIC_ASSERT(KP_OFFSETOF(struct kp_data_hdr, kite_id) == 8, "cookie input offset");
KP_STATIC_ASSERT(KP_OFFSETOF(struct kp_data_hdr, cookie) == 32, "cookie offset");
#define KP_COOKIE_INPUT_OFFSET 8u
#define KP_COOKIE_INPUT_LEN 24u         /* IPv6 clients */
#define KP_COOKIE_INPUT4_LEN 12u        /* IPv4 clients: [8, 16) || [28, 32) */
#define KP_COOKIE_INPUT4_ADDR_OFFSET 28u

/* Overheads the front-end adds in front of a client datagram on the way to a
 * connector: outer IP + outer UDP + DATA header. */
#define KP_UDP_HDR_LEN 8u
#define KP_IP4_HDR_LEN 20u
#define KP_IP6_HDR_LEN 40u
#define KP_ENCAP_OVERHEAD_V4 (KP_IP4_HDR_LEN + KP_UDP_HDR_LEN + 40u)
#define KP_ENCAP_OVERHEAD_V6 (KP_IP6_HDR_LEN + KP_UDP_HDR_LEN + 40u)

/* ---- control messages (see docs/protocol.md for bodies) ---------------- */

#define KP_NONCE_LEN 16u
#define KP_TOKEN_LEN 32u
#define KP_PUBKEY_LEN 32u  /* X25519 */
#define KP_PROOF_LEN 32u   /* HMAC-SHA256 */
#define KP_MAC_LEN 16u     /* HMAC-SHA256 truncated, on in-session messages */
#define KP_MAX_KITE_NAME 253u
#define KP_HELLO_MIN_LEN 128u /* HELLO is padded to at least this */
#define KP_MAX_CONTROL_LEN 1400u

/* HELLO: the connector's first frame.  Padded with zero bytes to at least
 * KP_HELLO_MIN_LEN so that the CHALLENGE (smaller) never amplifies. */
struct kp_hello {
	struct kp_hdr h;                 /*  0 */
	__be16 versions_min_max;         /*  4: high byte min, low byte max version spoken */
	__be16 mtu;                      /*  6: connector's view of its path MTU */
	__u8 client_nonce[KP_NONCE_LEN]; /*  8 */
	__u8 client_pubkey[KP_PUBKEY_LEN]; /* 24 */
	/* 56: zero padding up to the datagram's end */
};
KP_STATIC_ASSERT(sizeof(struct kp_hello) == 56, "kp_hello fixed part");

/* CHALLENGE: stateless.  token = HMAC-SHA256(server secret, source address,
 * source port, timestamp, client_nonce, client_pubkey). */
struct kp_challenge {
	struct kp_hdr h;                 /*  0 */
	__be32 timestamp;                /*  4: seconds, front-end clock */
	__u8 token[KP_TOKEN_LEN];        /*  8 */
	__u8 client_nonce[KP_NONCE_LEN]; /* 40: echoed */
	__be16 mtu;                      /* 56: front-end's tunnel MTU */
	__be16 reserved;                 /* 58 */
};
KP_STATIC_ASSERT(sizeof(struct kp_challenge) == 60, "kp_challenge");
KP_STATIC_ASSERT(sizeof(struct kp_challenge) <= KP_HELLO_MIN_LEN, "no amplification");

/* REGISTER fixed part; followed by n_kites kite claims:
 *   u8 name_len, name[name_len], proof[32]
 * proof = HMAC-SHA256(kite secret, "kiteplane/1 register" || token ||
 *                     client_pubkey || name). */
struct kp_register {
	struct kp_hdr h;                   /*  0 */
	__be32 timestamp;                  /*  4: echoed from CHALLENGE */
	__u8 token[KP_TOKEN_LEN];          /*  8: echoed */
	__u8 client_nonce[KP_NONCE_LEN];   /* 40: as in HELLO */
	__u8 client_pubkey[KP_PUBKEY_LEN]; /* 56: as in HELLO */
	__be16 mtu;                        /* 88 */
	__u8 n_kites;                      /* 90 */
	__u8 reserved;                     /* 91 */
};
KP_STATIC_ASSERT(sizeof(struct kp_register) == 92, "kp_register fixed part");

/* Header of every in-session control message (KITE_*, HEARTBEAT*, RESUME*,
 * NOTICE*, CLOSE, and REGISTER_RESULT).  The message ends with a KP_MAC_LEN
 * MAC over every byte before it, keyed with the session key of its direction. */
struct kp_ctrl_hdr {
	struct kp_hdr h;   /*  0 */
	__be32 session_id; /*  4 */
	__be64 seq;        /*  8: strictly increasing per direction */
};
KP_STATIC_ASSERT(sizeof(struct kp_ctrl_hdr) == 16, "kp_ctrl_hdr");

/* Per-kite result codes in REGISTER_RESULT and KITE_RESULT. */
#define KP_RESULT_CODES(X)                                                     \
	X(ACCEPTED, 0, "accepted")                                                 \
	X(BAD_SECRET, 1, "bad secret")                                             \
	X(NAME_TAKEN, 2, "name taken")                                             \
	X(UNKNOWN_KITE, 3, "unknown kite")                                         \
	X(REFUSED_BY_POLICY, 4, "refused by policy")                               \
	X(OUT_OF_QUOTA, 5, "out of quota")                                         \
	X(NO_PORT, 6, "no public port available")                                  \
	X(TABLE_FULL, 7, "table full")                                             \
	X(LAME_DUCK, 8, "front-end is draining")                                   \
	X(BAD_REQUEST, 9, "malformed claim")                                       \
	X(REMOVED, 10, "removed")
#define KP_X_ENUM_RESULT(name, val, text) KP_RESULT_##name = val,
enum kp_result_code { KP_RESULT_CODES(KP_X_ENUM_RESULT) KP_RESULT_MAX };
#undef KP_X_ENUM_RESULT

/* NOTICE kinds */
enum kp_notice_kind {
	KP_NOTICE_LAME_DUCK = 1,     /* arg: deadline, seconds from now */
	KP_NOTICE_KITE_DISABLED = 2, /* kite_id; arg: reason (kp_result_code) */
	KP_NOTICE_KITE_ENABLED = 3,  /* kite_id */
	KP_NOTICE_KITE_KICKED = 4,   /* kite_id: removed by the operator */
	KP_NOTICE_MTU = 5,           /* arg: new tunnel MTU */
};

/* ERROR codes (unauthenticated; at most as large as the request) */
enum kp_error_code {
	KP_ERR_BAD_VERSION = 1,   /* arg: highest version spoken */
	KP_ERR_STALE_TOKEN = 2,   /* go back to HELLO */
	KP_ERR_UNKNOWN_SESSION = 3,
	KP_ERR_RATE_LIMITED = 4,
	KP_ERR_LAME_DUCK = 5,
};

/* ---- fixed bodies of the other control messages (added with protocol.md v1) ----
 * Every in-session message is struct kp_ctrl_hdr, the body below, then a
 * KP_MAC_LEN MAC.  Variable parts are described next to each struct. */

#define KP_MAX_CLAIMS 32u        /* kite claims in one REGISTER or KITE_ADD */
#define KP_MAX_TEXT 255u         /* reason / notice / close text bytes */
#define KP_TOKEN_LIFETIME_S 60u  /* CHALLENGE timestamp accepted this long */
#define KP_REPLAY_WINDOW 64u     /* accepted out-of-order distance of seq */
#define KP_DEFAULT_HEARTBEAT_S 15u
#define KP_DEFAULT_DEAD_AFTER 4u /* missed heartbeat acks before a peer is dead */
#define KP_DEFAULT_COOKIE_ROTATE_S 600u
#define KP_DEFAULT_MTU 1500u

/* One per-kite result, in REGISTER_RESULT and KITE_RESULT; followed by
 *   u8 name_len, name[name_len], u8 text_len, text[text_len]. */
struct kp_kite_result {
	__u8 code;                 /*  0: enum kp_result_code */
	__u8 family;               /*  1: KP_AF_* of addr, 0 when none */
	__be16 port;               /*  2: public port (ACCEPTED) / holder's port (NAME_TAKEN) */
	__be32 kite_id;            /*  4: ACCEPTED: kite id, else 0 */
	__be32 holder_session;     /*  8: NAME_TAKEN: session id holding the name */
	__u8 addr[16];             /* 12: public address / holder's connector address */
	__u8 server_proof[KP_PROOF_LEN]; /* 28: ACCEPTED: HMAC(kite secret, transcript) */
};
KP_STATIC_ASSERT(sizeof(struct kp_kite_result) == 60, "kp_kite_result fixed part");

/* REGISTER_RESULT body; followed by n_results struct kp_kite_result. */
struct kp_register_result {
	struct kp_ctrl_hdr c;              /*  0: seq 1, the first front-end message */
	__u8 server_pubkey[KP_PUBKEY_LEN]; /* 16: front-end's X25519 key for this session */
	__u8 client_nonce[KP_NONCE_LEN];   /* 48: echoed from REGISTER */
	__be16 mtu;                        /* 64: effective tunnel MTU */
	__be16 heartbeat_s;                /* 66: connector heartbeat interval */
	__be16 cookie_rotate_s;            /* 68: flow cookie key rotation period N */
	__u8 dead_after;                   /* 70: k */
	__u8 n_results;                    /* 71 */
};
KP_STATIC_ASSERT(sizeof(struct kp_register_result) == 72, "kp_register_result fixed part");

/* KITE_ADD body: u8 n_kites, then claims as in REGISTER.
 * KITE_REMOVE body: u8 n_kites, then u8 name_len, name[name_len] each. */

/* KITE_RESULT body; followed by n_results struct kp_kite_result. */
struct kp_kite_result_msg {
	struct kp_ctrl_hdr c; /*  0 */
	__be64 ack_seq;       /* 16: seq of the KITE_ADD / KITE_REMOVE answered */
	__u8 n_results;       /* 24 */
	__u8 reserved[7];     /* 25 */
};
KP_STATIC_ASSERT(sizeof(struct kp_kite_result_msg) == 32, "kp_kite_result_msg");

struct kp_heartbeat {
	struct kp_ctrl_hdr c;  /*  0 */
	__be32 timestamp_ms;   /* 16: sender's clock, echoed in the ack */
	__be32 reserved;       /* 20 */
};
KP_STATIC_ASSERT(sizeof(struct kp_heartbeat) == 24, "kp_heartbeat");

struct kp_heartbeat_ack {
	struct kp_ctrl_hdr c;  /*  0 */
	__be64 ack_seq;        /* 16 */
	__be32 timestamp_ms;   /* 24: echoed */
	__be32 reserved;       /* 28 */
};
KP_STATIC_ASSERT(sizeof(struct kp_heartbeat_ack) == 32, "kp_heartbeat_ack");

enum kp_resume_reason {
	KP_RESUME_SOCKET_ERROR = 1,
	KP_RESUME_SILENCE = 2,
	KP_RESUME_MISSED_ACKS = 3,
	KP_RESUME_NEW_SOCKET = 4,
};

struct kp_resume {
	struct kp_ctrl_hdr c; /*  0 */
	__u8 reason;          /* 16: enum kp_resume_reason */
	__u8 reserved[7];     /* 17 */
};
KP_STATIC_ASSERT(sizeof(struct kp_resume) == 24, "kp_resume");

struct kp_resume_ack {
	struct kp_ctrl_hdr c;     /*  0 */
	__be64 ack_seq;           /* 16 */
	__u8 family;              /* 24: observed connector address family */
	__u8 reserved;            /* 25 */
	__be16 observed_port;     /* 26: connector's address as the front-end sees it */
	__u8 observed_addr[16];   /* 28 */
	__be32 reserved2;         /* 44 */
};
KP_STATIC_ASSERT(sizeof(struct kp_resume_ack) == 48, "kp_resume_ack");

/* NOTICE body; followed by u8 text_len, text[text_len]. */
struct kp_notice {
	struct kp_ctrl_hdr c; /*  0 */
	__u8 kind;            /* 16: enum kp_notice_kind */
	__u8 reserved[3];     /* 17 */
	__be32 kite_id;       /* 20 */
	__be32 arg;           /* 24 */
	__be32 reserved2;     /* 28 */
};
KP_STATIC_ASSERT(sizeof(struct kp_notice) == 32, "kp_notice fixed part");

struct kp_notice_ack {
	struct kp_ctrl_hdr c; /*  0 */
	__be64 ack_seq;       /* 16 */
};
KP_STATIC_ASSERT(sizeof(struct kp_notice_ack) == 24, "kp_notice_ack");

enum kp_close_reason {
	KP_CLOSE_NORMAL = 0,
	KP_CLOSE_SHUTDOWN = 1,
	KP_CLOSE_REPLACED = 2,   /* make-before-break: a new session took over */
	KP_CLOSE_LAME_DUCK = 3,  /* the front-end's drain deadline passed */
	KP_CLOSE_NO_KITES = 4,
	KP_CLOSE_DEAD_PEER = 5,
	KP_CLOSE_PROTOCOL = 6,
	KP_CLOSE_KICKED = 7,
};

/* CLOSE body; followed by u8 text_len, text[text_len]. */
struct kp_close {
	struct kp_ctrl_hdr c; /*  0 */
	__u8 reason;          /* 16: enum kp_close_reason */
	__u8 reserved[7];     /* 17 */
};
KP_STATIC_ASSERT(sizeof(struct kp_close) == 24, "kp_close fixed part");

/* ERROR: unauthenticated, not followed by a MAC, exactly this size. */
struct kp_error {
	struct kp_hdr h;     /*  0 */
	__u8 code;           /*  4: enum kp_error_code */
	__u8 reserved[3];    /*  5 */
	__be32 arg;          /*  8 */
	__be32 session_id;   /* 12: UNKNOWN_SESSION: the id asked for */
};
KP_STATIC_ASSERT(sizeof(struct kp_error) == 16, "kp_error");
KP_STATIC_ASSERT(sizeof(struct kp_error) <= sizeof(struct kp_ctrl_hdr) + KP_MAC_LEN, "ERROR never amplifies");

#endif /* KP_ABI_WIRE_H */
