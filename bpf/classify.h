/* classify.h - address tests and the backend pick.
 *
 * API: kp_is_own(cfg, family, addr16) tells whether an address is one of the
 * front-end's own; kp_is_tunnel_port(cfg, port); kp_is_bogon(cfg, family,
 * addr16) applies the fixed list (loopback, unspecified, multicast), our own
 * addresses and the configured prefixes (matched on the 128-bit form).
 * kp_pick_session(kite, client16, dst) is the rendezvous hash of
 * docs/forwarding.md section 3 over the kite's live sessions; it copies the
 * chosen session into dst (seqread.h) and returns dst, or NULL.
 * kp_live_session(id, dst, n) copies (the first n bytes of) a LIVE session
 * holding exactly `id`: KP_SESS_TUNNEL_BYTES for the tunnel checks (id,
 * state, family, connector port and address), KP_SESS_ENCAP_BYTES for the
 * encapsulation (all but the reserved tail).
 */
#ifndef KP_BPF_CLASSIFY_H
#define KP_BPF_CLASSIFY_H

#include <bpf/bpf_endian.h>

#include "maps.h"
#include "seqread.h"

static __always_inline int kp_is_own(const struct kp_config *cfg, __u8 family, const __u8 a[16])
{
	int i;

	if (family == KP_AF_INET) {
		__u32 v4 = *(const __u32 *)(a + 12);

#pragma unroll
		for (i = 0; i < (int)KP_MAX_OWN_ADDRS; i++)
			if (i < cfg->n_own4 && *(const __u32 *)cfg->own4[i] == v4)
				return 1;
		return 0;
	}
#pragma unroll
	for (i = 0; i < (int)KP_MAX_OWN_ADDRS; i++) {
		const __u64 *o = (const __u64 *)cfg->own6[i];
		const __u64 *x = (const __u64 *)a;

		if (i < cfg->n_own6 && o[0] == x[0] && o[1] == x[1])
			return 1;
	}
	return 0;
}

static __always_inline int kp_is_tunnel_port(const struct kp_config *cfg, __be16 port)
{
	int i;

#pragma unroll
	for (i = 0; i < (int)KP_MAX_TUNNEL_PORTS; i++)
		if (i < cfg->n_tunnel_ports && cfg->tunnel_ports[i] == port)
			return 1;
	return 0;
}

/* Big-endian halves of a 16-byte address, as integers. */
static __always_inline __u64 kp_be64(const __u8 *p)
{
	return __builtin_bswap64(*(const __u64 *)p);
}

static __always_inline int kp_prefix_match(const struct kp_prefix *pf, __u64 hi, __u64 lo)
{
	__u32 len = pf->len;
	__u64 phi = kp_be64(pf->addr), plo = kp_be64(pf->addr + 8);
	__u64 m;

	if (len > 128)
		return 0;
	if (len <= 64) {
		m = len ? ~0ull << (64 - len) : 0;
		return ((hi ^ phi) & m) == 0;
	}
	if (hi != phi)
		return 0;
	m = ~0ull << (128 - len);
	return ((lo ^ plo) & m) == 0;
}

static __always_inline int kp_is_bogon(const struct kp_config *cfg, __u8 family, const __u8 a[16])
{
	__u64 hi = kp_be64(a), lo = kp_be64(a + 8);
	int i;

	if (family == KP_AF_INET) {
		__u8 b0 = a[12];

		if (b0 == 127 || (b0 & 0xf0) == 0xe0 || *(const __u32 *)(a + 12) == 0)
			return 1;
	} else {
		if (a[0] == 0xff || (hi == 0 && (lo == 0 || lo == 1)))
			return 1;
	}
	if (kp_is_own(cfg, family, a))
		return 1;
#pragma unroll
	for (i = 0; i < (int)KP_MAX_BOGONS; i++)
		if (i < cfg->n_bogons && kp_prefix_match(&cfg->bogons[i], hi, lo))
			return 1;
	return 0;
}

static __always_inline __u64 kp_fmix64(__u64 x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

/* Copies the session slot of `id` into dst and returns dst if it holds
 * exactly `id`, LIVE; NULL otherwise (also when it could not be read). */
#define KP_SESS_TUNNEL_BYTES 24 /* through connector_addr */
#define KP_SESS_ENCAP_BYTES 56  /* through flags; reserved[12] is not read */
_Static_assert(__builtin_offsetof(struct kp_session, local_addr) == KP_SESS_TUNNEL_BYTES,
	       "tunnel checks read through connector_addr");
_Static_assert(__builtin_offsetof(struct kp_session, reserved) <= KP_SESS_ENCAP_BYTES &&
		       __builtin_offsetof(struct kp_session, flags) + 2 <= KP_SESS_ENCAP_BYTES,
	       "encapsulation reads through flags");

static __always_inline const struct kp_session *kp_live_session(__u32 id, struct kp_session *dst,
								 int n)
{
	if (kp_session_read(id & KP_SESSION_INDEX_MASK, dst, n) || dst->session_id != id ||
	    dst->state != KP_SESSION_LIVE)
		return 0;
	return dst;
}

/* Scores the live sessions by their id and state only, then copies the
 * winner into dst (re-checked there).  A kite with one session skips the
 * scoring: the copy's own check decides. */
static __always_inline const struct kp_session *kp_pick_session(const struct kp_kite *kite,
								 const __u8 client[16],
								 struct kp_session *dst)
{
	__u64 ch, score, best_score = 0;
	__u32 n = kite->n_sessions, id, best_id = 0;
	int i;

	/* One candidate: no scores to compare (the common case); the copy
	 * checks it is live, as the pick below would. */
	if (n == 1)
		return kp_live_session(kite->sessions[0], dst, KP_SESS_ENCAP_BYTES);
	ch = kp_fmix64(*(const __u64 *)(client) ^ kp_fmix64(*(const __u64 *)(client + 8)));
#pragma unroll
	for (i = 0; i < (int)KP_MAX_KITE_SESSIONS; i++) {
		if (i >= n)
			continue;
		id = kite->sessions[i];
		if (!kp_session_live_id(id))
			continue;
		score = kp_fmix64(ch ^ ((__u64)id * 0x9e3779b97f4a7c15ull));
		if (!best_id || score > best_score) {
			best_id = id;
			best_score = score;
		}
	}
	if (!best_id)
		return 0;
	return kp_live_session(best_id, dst, KP_SESS_ENCAP_BYTES);
}

#endif /* KP_BPF_CLASSIFY_H */
