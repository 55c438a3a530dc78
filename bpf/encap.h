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

static __always_inline int kp_mac_zero(const __u8 m[6])
{
	return (m[0] | m[1] | m[2] | m[3] | m[4] | m[5]) == 0;
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
	kp_copy_mac(e, dmac);
	kp_copy_mac(e + 6, kp_mac_zero(cfg->own_mac) ? pkt->eth_dst : cfg->own_mac);
	if (pkt->has_vlan) {
		*(__be16 *)(e + 12) = bpf_htons(ETH_P_8021Q);
		*(__be16 *)(e + 14) = pkt->vlan_tci;
		*(__be16 *)(e + 16) = proto;
	} else {
		*(__be16 *)(e + 12) = proto;
	}
	return 0;
}

/* Writes an IP header (family, src, dst from 16-byte forms) at `l2`,
 * followed by `tail_len` bytes of `tail` (UDP header, DATA header); returns
 * the pseudo-header address sum via *addr_sum, or <0 when out of bounds. */
static __always_inline int kp_write_l3(struct xdp_md *ctx, __u32 l2, __u8 family,
				       const __u8 src[16], const __u8 dst[16], __u16 payload_len,
				       const void *tail, __u32 tail_len, __u64 *addr_sum)
{
	void *end = (void *)(long)ctx->data_end;
	__u8 *p = (void *)(long)ctx->data;

	if (l2 > 18)
		return -1;
	p += l2;
	if (family == KP_AF_INET) {
		struct iphdr ip = {};

		if ((void *)(p + sizeof(ip) + tail_len) > end)
			return -1;
		ip.version = 4;
		ip.ihl = 5;
		ip.tot_len = bpf_htons(payload_len + sizeof(ip));
		ip.frag_off = bpf_htons(0x4000);
		ip.ttl = 64;
		ip.protocol = IPPROTO_UDP;
		ip.saddr = *(const __u32 *)(src + 12);
		ip.daddr = *(const __u32 *)(dst + 12);
		ip.check = (__u16)~kp_fold(kp_sum32(&ip, 5));
		*addr_sum = (__u64)ip.saddr + ip.daddr;
		kp_copy32(p, &ip, sizeof(ip));
		kp_copy32(p + sizeof(ip), tail, tail_len);
	} else {
		struct ipv6hdr ip = {};

		if ((void *)(p + sizeof(ip) + tail_len) > end)
			return -1;
		ip.version = 6;
		ip.payload_len = bpf_htons(payload_len);
		ip.nexthdr = IPPROTO_UDP;
		ip.hop_limit = 64;
		kp_copy32(&ip.saddr, src, 16);
		kp_copy32(&ip.daddr, dst, 16);
		*addr_sum = kp_addr16_sum(src) + kp_addr16_sum(dst);
		kp_copy32(p, &ip, sizeof(ip));
		kp_copy32(p + sizeof(ip), tail, tail_len);
	}
	return 0;
}

/* Sum of an IP pseudo header's addresses, before the header is written. */
static __always_inline __u64 kp_pseudo_addr_sum(__u8 family, const __u8 src[16],
						const __u8 dst[16])
{
	if (family == KP_AF_INET)
		return (__u64)*(const __u32 *)(src + 12) + *(const __u32 *)(dst + 12);
	return kp_addr16_sum(src) + kp_addr16_sum(dst);
}

/* Drops Ethernet padding: the frame ends where the IP packet ends. */
static __always_inline int kp_trim(struct xdp_md *ctx, const struct kp_pkt *pkt)
{
	__u32 want = pkt->l2_len + pkt->l3_len + pkt->udp_len;

	if (pkt->frame_len > want)
		return bpf_xdp_adjust_tail(ctx, -(int)(pkt->frame_len - want));
	return 0;
}

static __always_inline void kp_fill_data_hdr(struct kp_data_hdr *dh, const struct kp_config *cfg,
					     const struct kp_pkt *pkt, __u32 session_id,
					     __u32 kite_id)
{
	__u32 k = cfg->key_epoch & 1;

	dh->h.magic = KP_MAGIC;
	dh->h.version = KP_PROTO_VERSION;
	dh->h.type = KP_MSG_DATA;
	dh->h.flags = KP_F_FROM_FRONTEND;
	dh->session_id = bpf_htonl(session_id);
	dh->kite_id = bpf_htonl(kite_id);
	dh->client_port = pkt->sport;
	dh->client_family = pkt->family;
	dh->key_epoch = cfg->key_epoch;
	kp_copy64(dh->client_addr, pkt->src, 16);
	dh->cookie = kp_siphash24_24(cfg->cookie_keys[k][0], cfg->cookie_keys[k][1],
				     (const __u64 *)((__u8 *)dh + KP_COOKIE_INPUT_OFFSET));
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
	struct kp_udp_data ud = {};
	__u64 addr_sum = 0, sum;

	if (kp_trim(ctx, pkt))
		return KP_DROP_NO_HEADROOM;
	if (bpf_xdp_adjust_head(ctx, (int)(pkt->l3_len + sizeof(struct udphdr)) -
					     (int)(out_l3 + sizeof(ud))))
		return KP_DROP_NO_HEADROOM;
	if (!dmac)
		return KP_DROP_NO_NEXTHOP;
	ud.udp.source = s->local_port;
	ud.udp.dest = s->connector_port;
	ud.udp.len = bpf_htons(out_udp_len);
	kp_fill_data_hdr(&ud.dh, cfg, pkt, s->session_id, kite_id);
	sum = kp_pseudo_addr_sum(fam, s->local_addr, s->connector_addr) +
	      kp_pseudo_rest(out_udp_len) + kp_sum32(&ud, sizeof(ud) / 4) + pkt->payload_sum;
	ud.udp.check = kp_csum_final(sum);
	if (kp_write_l2(ctx, cfg, pkt, dmac, fam) ||
	    kp_write_l3(ctx, pkt->l2_len, fam, s->local_addr, s->connector_addr, out_udp_len, &ud,
			sizeof(ud), &addr_sum))
		return KP_DROP_NO_HEADROOM;
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
	__u16 psum = kp_csum_sub(pkt->payload_sum, kp_fold(kp_sum32(dh, sizeof(*dh) / 4)));
	__u16 ulen = payload + sizeof(struct udphdr);
	struct udphdr udp __attribute__((aligned(8))) = {};
	__u64 addr_sum = 0;

	if (!dmac)
		return KP_DROP_NO_NEXTHOP;
	if (kp_trim(ctx, pkt))
		return KP_DROP_NO_HEADROOM;
	if (bpf_xdp_adjust_head(ctx, (int)(pkt->l3_len + sizeof(struct kp_udp_data)) -
					     (int)(in_l3 + sizeof(udp))))
		return KP_DROP_NO_HEADROOM;
	udp.source = kite->key.port;
	udp.dest = dh->client_port;
	udp.len = bpf_htons(ulen);
	udp.check = kp_csum_final(kp_pseudo_addr_sum(fam, kite->key.addr, dh->client_addr) +
				  kp_pseudo_rest(ulen) + udp.source + udp.dest + udp.len + psum);
	if (kp_write_l2(ctx, cfg, pkt, dmac, fam) ||
	    kp_write_l3(ctx, pkt->l2_len, fam, kite->key.addr, dh->client_addr, ulen, &udp,
			sizeof(udp), &addr_sum))
		return KP_DROP_NO_HEADROOM;
	return KP_DROP_NONE;
}

#endif /* KP_BPF_ENCAP_H */
