/* fastpath.h - the per-packet chain of the XDP program.
 *
 * API: kp_process(ctx) runs one frame through parse -> classify -> police ->
 * rewrite -> account exactly as docs/forwarding.md says and returns
 * KP_ACT_TX (frame rewritten in place), KP_ACT_PASS (untouched, for the
 * kernel) or KP_ACT_DROP (reason counted).  Entry programs (kiteplane.bpf.c,
 * bench_fastpath.bpf.c) map these to XDP verdicts.  kp_fixed_now_ns is a
 * read-only global the loader may set to pin the clock (tests).
 */
#ifndef KP_BPF_FASTPATH_H
#define KP_BPF_FASTPATH_H

#include <linux/bpf.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "classify.h"
#include "copy.h"
#include "counters.h"
#include "csum.h"
#include "encap.h"
#include "maps.h"
#include "parsing.h"
#include "police.h"
#include "siphash.h"

enum kp_act { KP_ACT_TX, KP_ACT_PASS, KP_ACT_DROP };

/* Outcome of a path: a drop reason, KP_DROP_NONE (TX) or one of these. */
#define KP_OUT_PASS KP_PARSE_PASS
#define KP_OUT_CONTROL 0x1003u

/* One slot per packet: police and counters share this CPU's kp_kite_slot. */
static __always_inline void kp_account_tx(struct kp_kite_slot *slot, __u32 pkts_ctr,
					  __u32 bytes_ctr, __u32 payload)
{
	slot->pol.used_bytes += payload;
	slot->ctrs.v[pkts_ctr] += 1;
	slot->ctrs.v[bytes_ctr] += payload;
}

/* docs/forwarding.md section 3: client -> connector; sc->kite holds the
 * kite, read consistently and not EMPTY. */
static __always_inline __u32 kp_kite_datagram(struct xdp_md *ctx, const struct kp_pkt *pkt,
					      const struct kp_config *cfg, struct kp_scratch *sc,
					      struct kp_globals *g, __u32 kite_id, __u32 *drop_kite)
{
	const struct kp_kite *kite = &sc->kite;
	__u32 payload = pkt->udp_len - sizeof(struct udphdr);
	const struct kp_session *s;
	struct kp_kite_slot *slot;
	__u32 r, mtu, outer;

	if (kp_is_bogon(cfg, pkt->family, pkt->src))
		return KP_DROP_BOGON_SOURCE;
	if (cfg->state == KP_FE_CLOSED)
		return KP_DROP_LAME_DUCK_CLOSED;
	*drop_kite = kite_id;
	if (kite->state != KP_KITE_LIVE)
		return KP_DROP_KITE_DISABLED;
	s = kp_pick_session(kite, pkt->src, &sc->sess);
	if (!s)
		return KP_DROP_KITE_NO_SESSION;
	slot = kp_slot(kite_id);
	if (!slot)
		return KP_DROP_KITE_NO_SESSION;
	r = kp_police_apply(cfg, kite, &slot->pol, &kite_id, payload);
	if (r)
		return r;
	mtu = s->mtu ? s->mtu : 1500;
	outer = payload + sizeof(struct kp_udp_data) + (s->family == KP_AF_INET ? 20 : 40);
	if (outer > mtu)
		return KP_DROP_MTU_EXCEEDED;
	r = kp_encap(ctx, pkt, cfg, s, kite_id);
	if (r)
		return r;
	kp_account_tx(slot, KP_KCTR_RX_PKTS, KP_KCTR_RX_BYTES, payload);
	kp_count(g, KP_CTR_ENCAP_PKTS, 1);
	return KP_DROP_NONE;
}

static __always_inline int kp_is_mapped4(const __u8 a[16])
{
	const __u64 *w = (const __u64 *)a;

	return w[0] == 0 && *(const __u32 *)(a + 8) == bpf_htonl(0x0000ffff);
}

static __always_inline int kp_kite_has_session(const struct kp_kite *kite, __u32 sid)
{
	__u32 n = kite->n_sessions;
	int i;

#pragma unroll
	for (i = 0; i < (int)KP_MAX_KITE_SESSIONS; i++)
		if (i < n && kite->sessions[i] == sid)
			return 1;
	return 0;
}

/* Steps 1-5 of section 4: header, session, source, family, cookie. */
static __always_inline __u32 kp_tunnel_check(struct xdp_md *ctx, const struct kp_pkt *pkt,
					     const struct kp_config *cfg, struct kp_scratch *sc,
					     struct kp_data_hdr *dh)
{
	__u32 off = pkt->l2_len + pkt->l3_len + sizeof(struct udphdr);
	__u32 plen = pkt->udp_len - sizeof(struct udphdr);
	void *end = (void *)(long)ctx->data_end;
	__u8 *p = (void *)(long)ctx->data;
	const struct kp_session *s;
	const volatile __u64 *w;
	const __u64 *ca;
	__u64 want;
	__u32 k;

	if (off > 18 + 40 + 8)
		return KP_DROP_TUN_TRUNCATED;
	p += off;
	if (plen < sizeof(struct kp_hdr) || (void *)(p + sizeof(struct kp_hdr)) > end)
		return KP_DROP_TUN_TRUNCATED;
	*(__u32 *)&dh->h = *(const __u32 *)p;
	if (dh->h.magic != KP_MAGIC)
		return KP_DROP_TUN_BAD_MAGIC;
	if (dh->h.type != KP_MSG_DATA)
		return KP_OUT_CONTROL;
	if (dh->h.version != KP_PROTO_VERSION)
		return KP_DROP_TUN_BAD_VERSION;
	if (plen < sizeof(*dh) || (void *)(p + sizeof(*dh)) > end)
		return KP_DROP_TUN_TRUNCATED;
	kp_copy64(dh, p, sizeof(*dh));
	/* only id, state, family, connector port and address are read here */
	s = kp_live_session(bpf_ntohl(dh->session_id), &sc->sess, KP_SESS_TUNNEL_BYTES);
	if (!s)
		return KP_DROP_TUN_UNKNOWN_SESSION;
	/* the copy is an 8-byte aligned map value and connector_addr sits at
	 * offset 8: say so, or clang splits each word load in two */
	ca = __builtin_assume_aligned(s->connector_addr, 8);
	if (s->family != pkt->family || s->connector_port != pkt->sport ||
	    ca[0] != *(const __u64 *)pkt->src || ca[1] != *(const __u64 *)(pkt->src + 8))
		return KP_DROP_TUN_WRONG_SOURCE;
	if (dh->client_family == KP_AF_INET) {
		if (!kp_is_mapped4(dh->client_addr))
			return KP_DROP_TUN_BAD_FAMILY;
	} else if (dh->client_family != KP_AF_INET6) {
		return KP_DROP_TUN_BAD_FAMILY;
	}
	if ((__u8)(cfg->key_epoch - dh->key_epoch) > 1)
		return KP_DROP_TUN_BAD_COOKIE;
	/* An IPv4 client's cookie covers only bytes [8, 16) and the address
	 * (kp_wire.h); the mapped prefix in between is pinned by the family
	 * check above (tunnel_bad_family), as the ABI says. */
	k = dh->key_epoch & 1;
	/* volatile: loaded as the words just copied, where clang rebuilt the
	 * first from the fields it had read for the checks (15 instructions) */
	w = (const volatile __u64 *)((__u8 *)dh + KP_COOKIE_INPUT_OFFSET);
	want = kp_cookie_words(cfg->cookie_keys[k][0], cfg->cookie_keys[k][1], dh->client_family,
			       w[0], w[1], w[2]);
	if (want != dh->cookie)
		return KP_DROP_TUN_BAD_COOKIE;
	return KP_DROP_NONE;
}

/* docs/forwarding.md section 4: connector -> client. */
static __always_inline __u32 kp_tunnel_frame(struct xdp_md *ctx, const struct kp_pkt *pkt,
					     const struct kp_config *cfg, struct kp_scratch *sc,
					     struct kp_globals *g, __u32 *drop_kite)
{
	struct kp_data_hdr dh; /* written by kp_tunnel_check before any read */
	const struct kp_kite *kite = &sc->kite;
	struct kp_kite_slot *slot;
	__u32 r, kite_id, payload;

	r = kp_tunnel_check(ctx, pkt, cfg, sc, &dh);
	if (r)
		return r;
	kite_id = bpf_ntohl(dh.kite_id);
	if (kite_id < 1 || kite_id >= KP_MAX_KITES)
		return KP_DROP_TUN_KITE_NOT_IN_SESSION;
	if (kp_kite_read(kite_id, &sc->kite) || kite->state == KP_KITE_EMPTY)
		return KP_DROP_TUN_KITE_NOT_IN_SESSION;
	if (!kp_kite_has_session(kite, bpf_ntohl(dh.session_id)))
		return KP_DROP_TUN_KITE_NOT_IN_SESSION;
	*drop_kite = kite_id;
	if (kite->key.family != dh.client_family)
		return KP_DROP_TUN_BAD_FAMILY;
	if (kp_is_bogon(cfg, dh.client_family, dh.client_addr))
		return KP_DROP_TUN_BOGON_CLIENT;
	if (cfg->state == KP_FE_CLOSED)
		return KP_DROP_LAME_DUCK_CLOSED;
	if (kite->state != KP_KITE_LIVE)
		return KP_DROP_KITE_DISABLED;
	slot = kp_slot(kite_id);
	if (!slot)
		return KP_DROP_TUN_KITE_NOT_IN_SESSION;
	payload = pkt->udp_len - sizeof(struct kp_udp_data);
	r = kp_police_apply(cfg, kite, &slot->pol, &kite_id, payload);
	if (r)
		return r;
	r = kp_decap(ctx, pkt, cfg, &dh, kite);
	if (r)
		return r;
	kp_account_tx(slot, KP_KCTR_TX_PKTS, KP_KCTR_TX_BYTES, payload);
	kp_count(g, KP_CTR_DECAP_PKTS, 1);
	return KP_DROP_NONE;
}

/* Parse, classify, act; returns a drop reason, KP_DROP_NONE or KP_OUT_*. */
static __always_inline __u32 kp_classify(struct xdp_md *ctx, struct kp_pkt *pkt,
					 struct kp_globals *g, __u32 *drop_kite)
{
	const struct kp_config *cfg;
	/* written whole before its one use (addr, then port, family and pad
	 * as one word): not zeroed first, which clang did on every packet */
	struct kp_kite_key key __attribute__((aligned(8)));
	struct kp_scratch *sc;
	__u32 r, *kite_id, id;
	__u64 a0, a1;
	__u32 pf;

	r = kp_parse(ctx, pkt);
	if (r != KP_PARSE_UDP)
		return r;
	cfg = kp_config_get();
	sc = kp_scratch_get();
	if (!cfg || !sc)
		return KP_OUT_PASS;
	if (kp_is_tunnel_port(cfg, pkt->dport) && kp_is_own(cfg, pkt->family, pkt->dst))
		return kp_tunnel_frame(ctx, pkt, cfg, sc, g, drop_kite);
	a0 = ((const __u64 *)pkt->dst)[0];
	a1 = ((const __u64 *)pkt->dst)[1];
	pf = (__u32)pkt->dport | (__u32)pkt->family << 16; /* port, family, pad */
	id = kp_kite_idx_find(a0, a1, pf, &sc->kite);
	if (!id) {
		((__u64 *)key.addr)[0] = a0;
		((__u64 *)key.addr)[1] = a1;
		/* one store: the hash reads the last three fields as one word */
		*(__u32 *)&key.port = pf;
		kite_id = bpf_map_lookup_elem(&kp_kite_hash, &key);
		if (!kite_id)
			return KP_OUT_PASS;
		id = *kite_id;
		if (kp_kite_read(id, &sc->kite) || sc->kite.state == KP_KITE_EMPTY)
			return KP_OUT_PASS; /* deleted (or being rewritten): as if not found */
	}
	return kp_kite_datagram(ctx, pkt, cfg, sc, g, id, drop_kite);
}

static __always_inline enum kp_act kp_process(struct xdp_md *ctx)
{
	struct kp_globals *g = kp_globals_get();
	/* Zeroed although kp_parse writes every field a UDP verdict reads today:
	 * a later path reading one it does not would otherwise see stack
	 * garbage (the verifier allows that to a CAP_PERFMON loader), for ~1 ns. */
	struct kp_pkt pkt = {};
	__u32 drop_kite = 0, r;

	if (!g)
		return KP_ACT_PASS; /* cannot happen: a one-entry per-CPU array */
	kp_count(g, KP_CTR_RX_PKTS, 1);
	kp_count(g, KP_CTR_RX_BYTES, ctx->data_end - ctx->data);
	r = kp_classify(ctx, &pkt, g, &drop_kite);
	switch (r) {
	case KP_DROP_NONE:
		kp_count(g, KP_CTR_TX_PKTS, 1);
		kp_count(g, KP_CTR_TX_BYTES, ctx->data_end - ctx->data);
		return KP_ACT_TX;
	case KP_PARSE_FRAGMENT:
		kp_count(g, KP_CTR_FRAGMENT_PKTS, 1);
		kp_count(g, KP_CTR_EXCEPTION_PKTS, 1);
		return KP_ACT_PASS;
	case KP_OUT_CONTROL:
		kp_count(g, KP_CTR_CONTROL_PKTS, 1);
		kp_count(g, KP_CTR_EXCEPTION_PKTS, 1);
		return KP_ACT_PASS;
	case KP_OUT_PASS:
		kp_count(g, KP_CTR_EXCEPTION_PKTS, 1);
		return KP_ACT_PASS;
	default:
		kp_count_drop(g, r < KP_DROP_MAX ? r : KP_DROP_NONE, drop_kite);
		return KP_ACT_DROP;
	}
}

#endif /* KP_BPF_FASTPATH_H */
