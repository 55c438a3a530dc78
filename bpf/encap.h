/* encap.h - rewrite a frame: encapsulate toward a connector, decapsulate
 * toward a client.
 *
 * API: kp_next_hop(cfg, s, pkt) picks the destination MAC (section 6 of
 * docs/forwarding.md; s is NULL toward clients) or returns NULL when
 * unresolved.  kp_encap() and kp_decap() trim Ethernet padding, move the
 * head with bpf_xdp_adjust_head (NO_HEADROOM when it cannot), check the next
 * hop (NO_NEXTHOP) and write the new L2/IP/UDP(/DATA) headers with computed
 * checksums, reusing the payload sum taken at parse time.  Writes are direct
 * packet stores (no helper calls: each costs tens of ns here).  They return
 * KP_DROP_NONE when the frame is ready for TX, else a drop reason; after a
 * failure the frame may be half rewritten, which is harmless for a drop.
 */
#ifndef KP_BPF_ENCAP_H
#define KP_BPF_ENCAP_H

#include "copy.h"
#include "csum.h"
#include "kp_wire.h"
#include "parsing.h"
#include "siphash.h"

struct kp_udp_data {
	struct udphdr udp;
	struct kp_data_hdr dh;
};
_Static_assert(sizeof(struct kp_udp_data) == 48, "udp + DATA header");

static __always_inline const __u8 *kp_next_hop(const struct kp_config *cfg,
					       const struct kp_session *s,
					       const struct kp_pkt *pkt)
{
	if (s && (s->flags & KP_SESSION_F_NEXTHOP))
		return s->nexthop_mac;
	if (cfg->gateway_mac_valid == 1)
		return cfg->gateway_mac;
	if (cfg->gateway_mac_valid == 2)
		return pkt->eth_src;
	return 0;
}

/* A MAC as the low 48 bits of a word read with the 2 bytes after it: every
 * MAC passed here is followed by 2 readable bytes (kp_config's gateway_mac
 * and own_mac, kp_session's nexthop_mac, kp_pkt's 8-byte MAC slots). */
static __always_inline __u64 kp_mac_word(const __u8 m[6])
{
	return *(const __u64 *)m;
}

static __always_inline int kp_mac_zero(const __u8 m[6])
{
	return (kp_mac_word(m) << 16) == 0;
}

/* Writes the L2 header for a frame of outer `family` at offset 0. */
static __always_inline int kp_write_l2(struct xdp_md *ctx, const struct kp_config *cfg,
				       const struct kp_pkt *pkt, const __u8 *dmac, __u8 family)
{
	__u8 *e = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__be16 proto = bpf_htons(family == KP_AF_INET ? ETH_P_IP : ETH_P_IPV6);

	if ((void *)(e + 18) > end)
		return -1;
	/* two overlapping word stores; the EtherType (or tag) below goes over
	 * the 2 extra bytes of the second */
	*(__u64 *)e = kp_mac_word(dmac);
	*(__u64 *)(e + 6) = kp_mac_word(kp_mac_zero(cfg->own_mac) ? pkt->eth_dst : cfg->own_mac);
	if (pkt->has_vlan) {
		*(__be16 *)(e + 12) = bpf_htons(ETH_P_8021Q);
		*(__be16 *)(e + 14) = pkt->vlan_tci;
		*(__be16 *)(e + 16) = proto;
	} else {
		*(__be16 *)(e + 12) = proto;
	}
	return 0;
}

/* Sum of the two 32-bit halves of a word, for a 64-bit accumulator. */
static __always_inline __u64 kp_sum64(__u64 w)
{
	return (w & 0xffffffffull) + (w >> 32);
}

/* The headers are built as 64-bit words in registers, summed and hashed
 * there, and stored once: a struct written field by field and then read
 * back as wider words (to sum, hash or copy it) stalls on every such load
 * (store-to-load forwarding fails), which cost tens of ns per frame. */

/* Writes an IP header (family, src, dst from 16-byte forms, each read as two
 * 64-bit words) at `l2` and returns where its payload starts, with
 * `tail_len` bytes checked to be in the packet; NULL when out of bounds. */
static __always_inline __u8 *kp_write_l3(struct xdp_md *ctx, __u32 l2, __u8 family,
					 const __u8 src[16], const __u8 dst[16],
					 __u16 payload_len, __u32 tail_len)
{
	void *end = (void *)(long)ctx->data_end;
	__u8 *p = (void *)(long)ctx->data;

	if (l2 > 18)
		return 0;
	p += l2;
	if (family == KP_AF_INET) {
		__u32 saddr = *(const __u32 *)(src + 12), daddr = *(const __u32 *)(dst + 12);
		/* version/ihl, tos, tot_len, id 0, frag_off DF */
		__u64 w0 = 0x45 | (__u64)bpf_htons(payload_len + 20) << 16 |
			   (__u64)bpf_htons(0x4000) << 48;
		/* ttl, protocol, checksum (below), saddr */
		__u64 w1 = 64 | IPPROTO_UDP << 8 | (__u64)saddr << 32;
		__u16 check = (__u16)~kp_fold(kp_sum64(w0) + kp_sum64(w1) + daddr);

		if ((void *)(p + 20 + tail_len) > end)
			return 0;
		((__u64 *)p)[0] = w0;
		((__u64 *)p)[1] = w1 | (__u64)check << 16;
		((__u32 *)p)[4] = daddr;
		return p + 20;
	}
	if ((void *)(p + 40 + tail_len) > end)
		return 0;
	/* version 6, traffic class and flow label 0, payload length, next
	 * header, hop limit */
	((__u64 *)p)[0] = 0x60 | (__u64)bpf_htons(payload_len) << 32 |
			  (__u64)IPPROTO_UDP << 48 | 64ull << 56;
	((__u64 *)p)[1] = ((const __u64 *)src)[0];
	((__u64 *)p)[2] = ((const __u64 *)src)[1];
	((__u64 *)p)[3] = ((const __u64 *)dst)[0];
	((__u64 *)p)[4] = ((const __u64 *)dst)[1];
	return p + 40;
}

/* Sum of an IP pseudo header's addresses, before the header is written. */
static __always_inline __u64 kp_pseudo_addr_sum(__u8 family, const __u8 src[16],
						const __u8 dst[16])
{
	const __u64 *s = (const __u64 *)src, *d = (const __u64 *)dst;

	if (family == KP_AF_INET)
		return (__u64)*(const __u32 *)(src + 12) + *(const __u32 *)(dst + 12);
	return kp_sum64(s[0]) + kp_sum64(s[1]) + kp_sum64(d[0]) + kp_sum64(d[1]);
}

/* Drops Ethernet padding: the frame ends where the IP packet ends. */
static __always_inline int kp_trim(struct xdp_md *ctx, const struct kp_pkt *pkt)
{
	__u32 want = pkt->l2_len + pkt->l3_len + pkt->udp_len;

	if (pkt->frame_len > want)
		return bpf_xdp_adjust_tail(ctx, -(int)(pkt->frame_len - want));
	return 0;
}

/* The outer UDP header and DATA header toward a connector, as the six
 * little-endian words of struct kp_udp_data; the cookie is hashed from
 * words 2-4 (bytes [8, 32) of the DATA header) in registers: for an IPv4
 * client only word 2 and the address (the high half of word 4). */
struct kp_udp_data_words {
	__u64 w[6];
};

static __always_inline void kp_data_words(struct kp_udp_data_words *u, const struct kp_config *cfg,
					  const struct kp_pkt *pkt, const struct kp_session *s,
					  __u16 out_udp_len, __u32 kite_id)
{
	__u32 k = cfg->key_epoch & 1;
	__u64 w2, w3, w4;

	/* source, dest, len; the checksum is added by the caller */
	u->w[0] = (__u64)s->local_port | (__u64)s->connector_port << 16 |
		  (__u64)bpf_htons(out_udp_len) << 32;
	/* magic, version, type, flags, session id */
	u->w[1] = (__u64)(KP_MAGIC | KP_PROTO_VERSION << 8 | KP_MSG_DATA << 16 |
			  KP_F_FROM_FRONTEND << 24) |
		  (__u64)bpf_htonl(s->session_id) << 32;
	/* kite id, client port, client family, key epoch, client address */
	w2 = (__u64)bpf_htonl(kite_id) | (__u64)pkt->sport << 32 | (__u64)pkt->family << 48 |
	     (__u64)cfg->key_epoch << 56;
	w3 = ((const __u64 *)pkt->src)[0];
	w4 = ((const __u64 *)pkt->src)[1];
	u->w[2] = w2;
	u->w[3] = w3;
	u->w[4] = w4;
	u->w[5] = kp_cookie_words(cfg->cookie_keys[k][0], cfg->cookie_keys[k][1], pkt->family, w2,
				  w3, w4);
}

static __always_inline __u32 kp_encap(struct xdp_md *ctx, const struct kp_pkt *pkt,
				      const struct kp_config *cfg, const struct kp_session *s,
				      __u32 kite_id)
{
	const __u8 *dmac = kp_next_hop(cfg, s, pkt);
	__u8 fam = s->family == KP_AF_INET ? KP_AF_INET : KP_AF_INET6;
	__u32 out_l3 = fam == KP_AF_INET ? 20 : 40;
	__u16 payload = pkt->udp_len - sizeof(struct udphdr);
	__u16 out_udp_len = payload + sizeof(struct kp_udp_data);
	struct kp_udp_data_words u;
	__u64 sum;
	__u8 *t;
	int i;

	if (kp_trim(ctx, pkt))
		return KP_DROP_NO_HEADROOM;
	if (bpf_xdp_adjust_head(ctx, (int)(pkt->l3_len + sizeof(struct udphdr)) -
					     (int)(out_l3 + sizeof(struct kp_udp_data))))
		return KP_DROP_NO_HEADROOM;
	if (!dmac)
		return KP_DROP_NO_NEXTHOP;
	kp_data_words(&u, cfg, pkt, s, out_udp_len, kite_id);
	sum = kp_pseudo_addr_sum(fam, s->local_addr, s->connector_addr) +
	      kp_pseudo_rest(out_udp_len) + pkt->payload_sum;
#pragma unroll
	for (i = 0; i < 6; i++)
		sum += kp_sum64(u.w[i]);
	u.w[0] |= (__u64)kp_csum_final(sum) << 48;
	if (kp_write_l2(ctx, cfg, pkt, dmac, fam))
		return KP_DROP_NO_HEADROOM;
	t = kp_write_l3(ctx, pkt->l2_len, fam, s->local_addr, s->connector_addr, out_udp_len,
			sizeof(struct kp_udp_data));
	if (!t)
		return KP_DROP_NO_HEADROOM;
#pragma unroll
	for (i = 0; i < 6; i++)
		((__u64 *)t)[i] = u.w[i];
	return KP_DROP_NONE;
}

/* dh: the received DATA header (already verified); kite: its kite. */
static __always_inline __u32 kp_decap(struct xdp_md *ctx, const struct kp_pkt *pkt,
				      const struct kp_config *cfg, const struct kp_data_hdr *dh,
				      const struct kp_kite *kite)
{
	const __u8 *dmac = kp_next_hop(cfg, 0, pkt);
	__u8 fam = dh->client_family;
	__u32 in_l3 = fam == KP_AF_INET ? 20 : 40;
	__u16 payload = pkt->udp_len - sizeof(struct kp_udp_data);
	__u64 psum = kp_csum_sub32(pkt->payload_sum, kp_fold32(kp_sum32(dh, sizeof(*dh) / 4)));
	__u16 ulen = payload + sizeof(struct udphdr);
	__u64 w;
	__u8 *t;

	if (!dmac)
		return KP_DROP_NO_NEXTHOP;
	if (kp_trim(ctx, pkt))
		return KP_DROP_NO_HEADROOM;
	if (bpf_xdp_adjust_head(ctx, (int)(pkt->l3_len + sizeof(struct kp_udp_data)) -
					     (int)(in_l3 + sizeof(struct udphdr))))
		return KP_DROP_NO_HEADROOM;
	/* source, dest, len, checksum */
	w = (__u64)kite->key.port | (__u64)dh->client_port << 16 | (__u64)bpf_htons(ulen) << 32;
	w |= (__u64)kp_csum_final(kp_pseudo_addr_sum(fam, kite->key.addr, dh->client_addr) +
				  kp_pseudo_rest(ulen) + kp_sum64(w) + psum)
	     << 48;
	if (kp_write_l2(ctx, cfg, pkt, dmac, fam))
		return KP_DROP_NO_HEADROOM;
	t = kp_write_l3(ctx, pkt->l2_len, fam, kite->key.addr, dh->client_addr, ulen,
			sizeof(struct udphdr));
	if (!t)
		return KP_DROP_NO_HEADROOM;
	*(__u64 *)t = w;
	return KP_DROP_NONE;
}

#endif /* KP_BPF_ENCAP_H */
