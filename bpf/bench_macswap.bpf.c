/* bench_macswap.bpf.c - the trivial XDP_TX baseline for the benchmark.
 *
 * kp_bench_macswap swaps the Ethernet source and destination addresses and
 * transmits: the least work an XDP_TX program can do, measured beside
 * kiteplane.bpf.c in the same run of tests/bpf/xdp_bench.cc so the ratio is
 * meaningful.  kp_bench_empty only returns XDP_TX: its figure is the test
 * run's own cost per repetition, which every program's figure includes, and
 * which the benchmark adds back to the fast path's net figure (the net
 * figure is a difference of two programs, so the loop cost cancels out of it).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("xdp")
int kp_bench_macswap(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u8 tmp[ETH_ALEN];

	if ((void *)(eth + 1) > end)
		return XDP_DROP;
	__builtin_memcpy(tmp, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, tmp, ETH_ALEN);
	return XDP_TX;
}

SEC("xdp")
int kp_bench_empty(struct xdp_md *ctx)
{
	return XDP_TX;
}
