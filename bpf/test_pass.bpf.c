/* test_pass.bpf.c - an XDP program that passes every frame.
 *
 * The integration test attaches it to the peer end of a veth pair: a veth
 * only receives frames sent with XDP_TX by its peer when it runs NAPI, which
 * an attached XDP program guarantees.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("xdp")
int kp_test_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}
