/* encap.h - rewrite a frame: encapsulate toward a connector, decapsulate
 * toward a client.
 *
 * API: kp_next_hop(cfg, s, pkt) picks the destination MAC (section 6 of
 * docs/forwarding.md; s is NULL toward clients) or returns NULL when
 * unresolved.  kp_encap() and kp_decap() trim Ethernet padding, move the
 * head with bpf_xdp_adjust_head (NO_HEADROOM when it cannot), check the next
 * hop (NO_NEXTHOP) and write the new L2/IP/UDP(/DATA) headers with computed
 * checksums, reusing the payload sum taken at parse time.  They return
 * KP_DROP_NONE when the frame is ready for TX, else a drop reason; after a
 * failure the frame may be half rewritten, which is harmless for a drop.
 */
#ifndef KP_BPF_ENCAP_H
#define KP_BPF_ENCAP_H

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
	__u8 l2[18];
	__be16 proto = bpf_htons(family == KP_AF_INET ? ETH_P_IP : ETH_P_IPV6);

	__builtin_memcpy(l2, dmac, 6);
	__builtin_memcpy(l2 + 6, kp_mac_zero(cfg->own_mac) ? pkt->eth_dst : cfg->own_mac, 6);
	if (pkt->has_vlan) {
		*(__be16 *)(l2 + 12) = bpf_htons(ETH_P_8021Q);
		*(__be16 *)(l2 + 14) = pkt->vlan_tci;
		*(__be16 *)(l2 + 16) = proto;
		return bpf_xdp_store_bytes(ctx, 0, l2, 18);
	}
	*(__be16 *)(l2 + 12) = proto;
	return bpf_xdp_store_bytes(ctx, 0, l2, 14);
}

/* Writes an IP header (family, src, dst from 16-byte forms) at `off`;
 * returns the pseudo-header address sum via *addr_sum, or <0 on error. */
static __always_inline int kp_write_ip(struct xdp_md *ctx, __u32 off, __u8 family,
				       const __u8 src[16], const __u8 dst[16], __u16 payload_len,
				       __u64 *addr_sum)
{
	if (family == KP_AF_INET) {
		struct iphdr ip = {};

		ip.version = 4;
		ip.ihl = 5;
		ip.tot_len = bpf_htons(payload_len + sizeof(ip));
		ip.frag_off = bpf_htons(0x4000);
		ip.ttl = 64;
		ip.protocol = IPPROTO_UDP;
		__builtin_memcpy(&ip.saddr, src + 12, 4);
		__builtin_memcpy(&ip.daddr, dst + 12, 4);
		ip.check = (__u16)~kp_fold(KP_CSUM_OBJ(&ip, sizeof(ip)));
		*addr_sum = (__u64)ip.saddr + ip.daddr;
		return bpf_xdp_store_bytes(ctx, off, &ip, sizeof(ip));
	} else {
		struct ipv6hdr ip = {};

		ip.version = 6;
		ip.payload_len = bpf_htons(payload_len);
		ip.nexthdr = IPPROTO_UDP;
		ip.hop_limit = 64;
		__builtin_memcpy(&ip.saddr, src, 16);
		__builtin_memcpy(&ip.daddr, dst, 16);
		*addr_sum = kp_addr16_sum(src) + kp_addr16_sum(dst);
		return bpf_xdp_store_bytes(ctx, off, &ip, sizeof(ip));
	}
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
	__builtin_memcpy(dh->client_addr, pkt->src, 16);
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
	__u32 l2 = pkt->l2_len;

	if (kp_trim(ctx, pkt))
		return KP_DROP_NO_HEADROOM;
	if (bpf_xdp_adjust_head(ctx, (int)(pkt->l3_len + sizeof(struct udphdr)) -
					     (int)(out_l3 + sizeof(ud))))
		return KP_DROP_NO_HEADROOM;
	if (!dmac)
		return KP_DROP_NO_NEXTHOP;
	if (kp_write_l2(ctx, cfg, pkt, dmac, fam))
		return KP_DROP_NO_HEADROOM;
	if (kp_write_ip(ctx, l2, fam, s->local_addr, s->connector_addr, out_udp_len, &addr_sum))
		return KP_DROP_NO_HEADROOM;
	ud.udp.source = s->local_port;
	ud.udp.dest = s->connector_port;
	ud.udp.len = bpf_htons(out_udp_len);
	kp_fill_data_hdr(&ud.dh, cfg, pkt, s->session_id, kite_id);
	sum = addr_sum + kp_pseudo_rest(out_udp_len) + KP_CSUM_OBJ(&ud, sizeof(ud)) +
	      pkt->payload_sum;
	ud.udp.check = kp_csum_final(sum);
	if (bpf_xdp_store_bytes(ctx, l2 + out_l3, &ud, sizeof(ud)))
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
	__u16 psum = kp_csum_sub(pkt->payload_sum, kp_fold(KP_CSUM_OBJ(dh, sizeof(*dh))));
	struct udphdr udp = {};
	__u64 addr_sum = 0;
	__u32 l2 = pkt->l2_len;

	if (!dmac)
		return KP_DROP_NO_NEXTHOP;
	if (kp_trim(ctx, pkt))
		return KP_DROP_NO_HEADROOM;
	if (bpf_xdp_adjust_head(ctx, (int)(pkt->l3_len + sizeof(struct kp_udp_data)) -
					     (int)(in_l3 + sizeof(udp))))
		return KP_DROP_NO_HEADROOM;
	if (kp_write_l2(ctx, cfg, pkt, dmac, fam))
		return KP_DROP_NO_HEADROOM;
	if (kp_write_ip(ctx, l2, fam, kite->key.addr, dh->client_addr, payload + sizeof(udp),
			&addr_sum))
		return KP_DROP_NO_HEADROOM;
	udp.source = kite->key.port;
	udp.dest = dh->client_port;
	udp.len = bpf_htons(payload + sizeof(udp));
	udp.check = kp_csum_final(addr_sum + kp_pseudo_rest(payload + sizeof(udp)) +
				  KP_CSUM_OBJ(&udp, sizeof(udp)) + psum);
	if (bpf_xdp_store_bytes(ctx, l2 + in_l3, &udp, sizeof(udp)))
		return KP_DROP_NO_HEADROOM;
	return KP_DROP_NONE;
}

#endif /* KP_BPF_ENCAP_H */
