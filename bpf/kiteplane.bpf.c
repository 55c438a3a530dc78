/* kiteplane.bpf.c - the XDP fast path of kiteplane.
 *
 * Implements docs/forwarding.md exactly: parse (parsing.h), classify into a
 * tunnel frame (connector -> client, decapsulated) or a kite datagram
 * (client -> connector, encapsulated with a SipHash flow cookie), police
 * (police.h), rewrite (encap.h) and count (counters.h).  TX is XDP_TX (or a
 * redirect back out of the ingress device when running as the CPUMAP
 * program), EXCEPTION is XDP_PASS with the frame untouched, DROP is XDP_DROP.
 * kp_xdp_spread is the optional entry that hashes flows onto CPUs through
 * kp_cpumap for NICs without RSS.
 */
#include <linux/bpf.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "fastpath.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("xdp")
int kp_xdp_main(struct xdp_md *ctx)
{
	enum kp_act a = kp_process(ctx);

	return a == KP_ACT_TX ? XDP_TX : a == KP_ACT_PASS ? XDP_PASS : XDP_DROP;
}

/* The same fast path run by a CPUMAP entry: XDP_TX is not available there,
 * so TX is a redirect out of the device the frame came in on. */
SEC("xdp/cpumap")
int kp_xdp_cpumap(struct xdp_md *ctx)
{
	enum kp_act a = kp_process(ctx);

	if (a == KP_ACT_TX)
		return bpf_redirect(ctx->ingress_ifindex, 0);
	return a == KP_ACT_PASS ? XDP_PASS : XDP_DROP;
}

/* Spreads frames over the CPUs of kp_cpus by a hash of the IP addresses (so
 * a flow stays on one CPU); unparsable frames stay on this CPU. */
SEC("xdp")
int kp_xdp_spread(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u32 count_key = KP_CPUS_COUNT, *n, *cpu, idx;
	__u64 h = 0;
	__u32 l2 = sizeof(*eth);
	__be16 proto;

	if ((void *)(eth + 1) > end)
		return XDP_PASS;
	proto = eth->h_proto;
	if (proto == bpf_htons(ETH_P_8021Q)) {
		if (data + 18 > end)
			return XDP_PASS;
		proto = *(__be16 *)(data + 16);
		l2 = 18;
	}
	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = data + l2;

		if ((void *)(ip + 1) > end)
			return XDP_PASS;
		h = ((__u64)ip->saddr << 32) ^ ip->daddr;
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = data + l2;
		const __u64 *w;

		if ((void *)(ip6 + 1) > end)
			return XDP_PASS;
		w = (const __u64 *)&ip6->saddr;
		h = w[0] ^ w[1] ^ kp_fmix64(w[2] ^ w[3]);
	}
	n = bpf_map_lookup_elem(&kp_cpus, &count_key);
	if (!n || *n == 0 || *n > KP_MAX_CPUS)
		return XDP_PASS;
	idx = (__u32)(kp_fmix64(h) % *n);
	cpu = bpf_map_lookup_elem(&kp_cpus, &idx);
	if (!cpu)
		return XDP_PASS;
	return bpf_redirect_map(&kp_cpumap, *cpu, XDP_PASS);
}
