/* bench_fastpath.bpf.c - the fast path wrapped for ns/packet measurement.
 *
 * BPF_PROG_TEST_RUN with `repeat` runs a program again and again on the same
 * buffer, but kp_process rewrites the frame (encapsulating grows it,
 * decapsulating shrinks it), so the second run would see a different frame.
 * kp_bench_fastpath saves the first KP_BENCH_SAVE bytes, runs the fast path,
 * moves the head back and restores those bytes, so every repetition sees the
 * original frame.  kp_bench_restore does only the save/restore work, so the
 * benchmark can subtract it.  Frames must be at least KP_BENCH_SAVE bytes
 * and carry no Ethernet padding.  Both move the head back with
 * bpf_xdp_adjust_head, kp_bench_restore by 0 bytes: the restore's helper
 * call (a call and an SRSO return thunk here, ~10 ns) is harness cost, so
 * it is in the subtracted figure too, not in the fast path's net figure.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "fastpath.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define KP_BENCH_SAVE 96

/* The saved bytes live in a per-CPU map: the fast path uses most of the
 * 512-byte stack.  Direct packet copies: helper calls would dominate. */
struct kp_bench_frame {
	__u8 b[KP_BENCH_SAVE];
	__u32 len; /* the frame's length */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kp_bench_frame);
} kp_bench_saved SEC(".maps");

static __always_inline int kp_bench_save(struct xdp_md *ctx)
{
	__u32 zero = 0;
	struct kp_bench_frame *saved = bpf_map_lookup_elem(&kp_bench_saved, &zero);
	void *data = (void *)(long)ctx->data;

	if (!saved || KP_PKT_SHORT(data, KP_BENCH_SAVE, (void *)(long)ctx->data_end))
		return -1;
	kp_copy64(saved->b, data, KP_BENCH_SAVE);
	saved->len = ctx->data_end - ctx->data;
	return 0;
}

/* Looks the saved frame up again rather than keeping its pointer and
 * length live across kp_process: values held across the whole fast path
 * multiply the states the verifier must tell apart. */
static __always_inline int kp_bench_restore_frame(struct xdp_md *ctx)
{
	__u32 zero = 0;
	struct kp_bench_frame *saved = bpf_map_lookup_elem(&kp_bench_saved, &zero);
	__u32 len = ctx->data_end - ctx->data, len0;
	void *data;

	if (!saved)
		return XDP_ABORTED;
	len0 = saved->len;

	asm volatile("" : "+r"(len)); /* no arithmetic on packet pointers */
	if (bpf_xdp_adjust_head(ctx, (int)len - (int)len0))
		return XDP_ABORTED;
	data = (void *)(long)ctx->data;
	if (KP_PKT_SHORT(data, KP_BENCH_SAVE, (void *)(long)ctx->data_end))
		return XDP_ABORTED;
	kp_copy64(data, saved->b, KP_BENCH_SAVE);
	return XDP_TX;
}

SEC("xdp")
int kp_bench_fastpath(struct xdp_md *ctx)
{
	if (kp_bench_save(ctx))
		return XDP_ABORTED;
	if (kp_process(ctx) != KP_ACT_TX)
		return XDP_DROP; /* the benchmark checks the verdict */
	return kp_bench_restore_frame(ctx);
}

SEC("xdp")
int kp_bench_restore(struct xdp_md *ctx)
{
	if (kp_bench_save(ctx))
		return XDP_ABORTED;
	return kp_bench_restore_frame(ctx);
}
