/* parsing.h - parse one frame: Ethernet, one 802.1Q tag, IPv4/IPv6, UDP.
 *
 * API: kp_parse(ctx, pkt) fills struct kp_pkt and returns KP_PARSE_UDP for a
 * valid UDP datagram, KP_PARSE_PASS for anything the kernel should have (not
 * IP, not UDP, hop-by-hop), KP_PARSE_FRAGMENT for IP fragments, or a drop
 * reason (enum kp_drop_reason, never KP_DROP_NONE).  Checks run in exactly
 * the order of docs/forwarding.md section 1, checksums included (the UDP
 * payload's sum is kept in pkt->payload_sum for the rewrite).  Addresses are
 * stored in the 16-byte form (IPv4-mapped IPv6 for IPv4).
 */
#ifndef KP_BPF_PARSING_H
#define KP_BPF_PARSING_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "copy.h"
#include "csum.h"
#include "kp_counters.h"
#include "kp_tables.h"
#include "kp_types.h"

#define KP_PARSE_UDP 0x1000u
#define KP_PARSE_PASS 0x1001u
#define KP_PARSE_FRAGMENT 0x1002u

#define KP_ETH_P_8021AD 0x88a8

struct kp_pkt {
	__u32 frame_len;    /* bytes received */
	__u32 payload_sum;  /* sum of the UDP payload, folded to 32 bits only */
	__u16 l2_len;       /* 14, or 18 with a VLAN tag */
	__u16 l3_len;       /* 20 or 40 */
	__u16 udp_len;      /* UDP length, header included (= IP payload) */
	__be16 vlan_tci;    /* valid when has_vlan */
	__u8 has_vlan;
	__u8 family;        /* KP_AF_INET / KP_AF_INET6 */
	__be16 sport;
	__be16 dport;
	__u8 pad[2];
	__u8 eth_dst[8];    /* the MAC, then 2 bytes that follow it: one word */
	__u8 eth_src[8];    /* the same */
	__u8 src[16];       /* 8-byte aligned: read as two words */
	__u8 dst[16];
} __attribute__((aligned(8)));
_Static_assert(__builtin_offsetof(struct kp_pkt, eth_dst) % 8 == 0 &&
		       __builtin_offsetof(struct kp_pkt, eth_src) % 8 == 0 &&
		       __builtin_offsetof(struct kp_pkt, src) % 8 == 0,
	       "kp_pkt word alignment");

/* Two 64-bit stores: readers load the address as two 64-bit words (key,
 * bogon test, rendezvous hash, DATA header), and a wide load of bytes written
 * by two narrower stores cannot be forwarded from the store buffer (a stall
 * of 10-15 cycles each time on this CPU). */
static __always_inline void kp_map4(__u8 out[16], __be32 a)
{
	((__u64 *)out)[0] = 0;
	((__u64 *)out)[1] = ((__u64)a << 32) | bpf_htonl(0x0000ffff);
}

/* Pseudo-header sum without the addresses: protocol and UDP length. */
static __always_inline __u64 kp_pseudo_rest(__u16 udp_len)
{
	return (__u64)bpf_htons(IPPROTO_UDP) + bpf_htons(udp_len);
}

/* UDP header, length and checksum (docs/forwarding.md 1.6).  `ip_payload` is
 * the IP payload length; `addr_sum` the pseudo-header address sum. */
static __always_inline __u32 kp_parse_udp(struct xdp_md *ctx, struct kp_pkt *pkt, __u32 l4,
					  __u32 ip_payload, __u64 addr_sum, int v6)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct udphdr *udp;
	__u16 ulen;
	__s64 s;

	if (ip_payload < sizeof(*udp))
		return KP_DROP_UDP_TRUNCATED;
	if (l4 > 64)
		return KP_DROP_UDP_TRUNCATED;
	udp = data + l4;
	if ((void *)(udp + 1) > end)
		return KP_DROP_UDP_TRUNCATED;
	ulen = bpf_ntohs(udp->len);
	if (ulen < sizeof(*udp) || ulen != ip_payload)
		return KP_DROP_UDP_BAD_LENGTH;
	s = kp_csum_range(ctx, l4 + sizeof(*udp), ulen - sizeof(*udp));
	if (s < 0)
		return KP_DROP_UDP_TRUNCATED;
	pkt->payload_sum = (__u32)s;
	if (udp->check || v6) {
		__u64 sum = addr_sum + kp_pseudo_rest(ulen) + (__u32)s;

		sum += (__u64)udp->source + udp->dest + udp->len + udp->check;
		if (!udp->check || kp_fold(sum) != 0xffff)
			return KP_DROP_UDP_BAD_CHECKSUM;
	}
	pkt->udp_len = ulen;
	pkt->sport = udp->source;
	pkt->dport = udp->dest;
	return KP_PARSE_UDP;
}

static __always_inline __u32 kp_parse_ip4(struct xdp_md *ctx, struct kp_pkt *pkt)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 avail = pkt->frame_len - pkt->l2_len;
	struct iphdr *ip;
	__u32 ihl, tot;
	__u64 addr_sum;

	if (pkt->l2_len > 18)
		return KP_DROP_IP4_TRUNCATED;
	ip = data + pkt->l2_len;
	if ((void *)(ip + 1) > end)
		return KP_DROP_IP4_TRUNCATED;
	if (ip->version != 4)
		return KP_DROP_IP4_BAD_VERSION;
	ihl = ip->ihl;
	if (ihl < 5)
		return KP_DROP_IP4_BAD_IHL;
	tot = bpf_ntohs(ip->tot_len);
	if (tot < ihl * 4 || tot > avail)
		return KP_DROP_IP4_BAD_LENGTH;
	if (ihl == 5) {
		const __u32 *w = (const __u32 *)ip;

		/* five loads, no loop (clang kept kp_sum32's loop here) */
		if (kp_fold((__u64)w[0] + w[1] + w[2] + w[3] + w[4]) != 0xffff)
			return KP_DROP_IP4_BAD_CHECKSUM;
	} else {
		__s64 hs = kp_csum_range(ctx, pkt->l2_len, ihl * 4);

		if (hs < 0 || kp_fold(hs) != 0xffff)
			return KP_DROP_IP4_BAD_CHECKSUM;
	}
	if (ip->frag_off & bpf_htons(0x3fff))
		return KP_PARSE_FRAGMENT;
	if (ihl > 5)
		return KP_DROP_IP4_OPTIONS;
	if (ip->protocol != IPPROTO_UDP)
		return KP_PARSE_PASS;
	pkt->family = KP_AF_INET;
	pkt->l3_len = sizeof(*ip);
	kp_map4(pkt->src, ip->saddr);
	kp_map4(pkt->dst, ip->daddr);
	addr_sum = (__u64)ip->saddr + ip->daddr;
	return kp_parse_udp(ctx, pkt, pkt->l2_len + sizeof(*ip), tot - sizeof(*ip), addr_sum, 0);
}

static __always_inline __u64 kp_addr16_sum(const __u8 a[16])
{
	const __u32 *w = (const __u32 *)a;

	return (__u64)w[0] + w[1] + w[2] + w[3];
}

static __always_inline __u32 kp_parse_ip6(struct xdp_md *ctx, struct kp_pkt *pkt)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 avail = pkt->frame_len - pkt->l2_len;
	struct ipv6hdr *ip;
	__u32 plen;

	if (pkt->l2_len > 18)
		return KP_DROP_IP6_TRUNCATED;
	ip = data + pkt->l2_len;
	if ((void *)(ip + 1) > end)
		return KP_DROP_IP6_TRUNCATED;
	if (ip->version != 6)
		return KP_DROP_IP6_BAD_VERSION;
	plen = bpf_ntohs(ip->payload_len);
	if (plen > avail - sizeof(*ip))
		return KP_DROP_IP6_BAD_LENGTH;
	switch (ip->nexthdr) {
	case IPPROTO_UDP:
		break;
	case 44:
		return KP_PARSE_FRAGMENT;
	case 0:
		return KP_PARSE_PASS;
	default:
		return kp_drops_ip6_ext_header(ip->nexthdr) ? KP_DROP_IP6_EXT_HEADER : KP_PARSE_PASS;
	}
	pkt->family = KP_AF_INET6;
	pkt->l3_len = sizeof(*ip);
	kp_copy64(pkt->src, &ip->saddr, 16);
	kp_copy64(pkt->dst, &ip->daddr, 16);
	return kp_parse_udp(ctx, pkt, pkt->l2_len + sizeof(*ip), plen,
			    kp_addr16_sum(pkt->src) + kp_addr16_sum(pkt->dst), 1);
}

static __always_inline __u32 kp_parse(struct xdp_md *ctx, struct kp_pkt *pkt)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__be16 proto;

	pkt->frame_len = (__u32)(end - data);
	if ((void *)(eth + 1) > end)
		return KP_DROP_ETH_TRUNCATED;
	/* each MAC as one word with the 2 bytes after it (the frame has 14);
	 * through `data`, not the packed struct ethhdr, or clang loads bytes */
	*(__u64 *)pkt->eth_dst = *(const __u64 *)data;
	*(__u64 *)pkt->eth_src = *(const __u64 *)(data + 6);
	proto = *(const __be16 *)(data + 12); /* not eth->h_proto: packed, read bytewise */
	pkt->l2_len = sizeof(*eth);
	pkt->has_vlan = 0;
	if (proto == bpf_htons(KP_ETH_P_8021AD))
		return KP_DROP_VLAN_STACKED;
	if (proto == bpf_htons(ETH_P_8021Q)) {
		__be16 *tag = (void *)(eth + 1);

		if ((void *)(tag + 2) > end)
			return KP_DROP_VLAN_TRUNCATED;
		proto = tag[1];
		if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(KP_ETH_P_8021AD))
			return KP_DROP_VLAN_STACKED;
		pkt->vlan_tci = tag[0];
		pkt->has_vlan = 1;
		pkt->l2_len = sizeof(*eth) + 4;
	}
	if (proto == bpf_htons(ETH_P_IP))
		return kp_parse_ip4(ctx, pkt);
	if (proto == bpf_htons(ETH_P_IPV6))
		return kp_parse_ip6(ctx, pkt);
	return KP_PARSE_PASS;
}

#endif /* KP_BPF_PARSING_H */
