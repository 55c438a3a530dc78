/* csum.h - Internet checksum arithmetic for the XDP program.
 *
 * API: every sum is a ones' complement sum of 16-bit words in native (little
 * endian) load order, kept in a __u64 accumulator and folded with kp_fold();
 * storing a folded value as a native __u16 yields correct network bytes.
 * kp_csum_range() is a global (separately verified) function that sums a
 * byte range of the packet with bpf_csum_diff() in power-of-two chunks, so
 * the main program never carries a data-dependent loop.  kp_csum_sub() is
 * ones' complement subtraction, used to take the DATA header out of a tunnel
 * frame's payload sum.
 */
#ifndef KP_BPF_CSUM_H
#define KP_BPF_CSUM_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* Largest frame the program handles (XDP frames are one page). */
#define KP_MAX_FRAME 4096u

static __always_inline __u16 kp_fold(__u64 s)
{
	s = (s & 0xffffffffull) + (s >> 32);
	s = (s & 0xffffffffull) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)s;
}

/* a - b in ones' complement arithmetic (both folded sums). */
static __always_inline __u16 kp_csum_sub(__u16 a, __u16 b)
{
	return kp_fold((__u64)a + (__u16)~b);
}

/* Final checksum field from a folded sum; a computed 0 is sent as 0xffff. */
static __always_inline __u16 kp_csum_final(__u64 sum)
{
	__u16 c = (__u16)~kp_fold(sum);

	return c ? c : 0xffff;
}

/* Sum of a small stack object whose size is a multiple of 4. */
#define KP_CSUM_OBJ(ptr, size) ((__u64)(__u32)bpf_csum_diff(0, 0, (void *)(ptr), (size), 0))

/* Sum of [off, off + len) of the packet; negative if out of bounds. */
__attribute__((noinline)) int kp_csum_range(struct xdp_md *ctx, __u32 off, __u32 len)
{
	void *end = (void *)(long)ctx->data_end;
	__u8 *p = (void *)(long)ctx->data;
	__u64 sum = 0;
	int i;

	if (off >= KP_MAX_FRAME || len >= KP_MAX_FRAME)
		return -1;
	/* keep the bounds visible to the verifier: clang would merge them */
	asm volatile("" : "+r"(off), "+r"(len));
	off &= KP_MAX_FRAME - 1;
	len &= KP_MAX_FRAME - 1;
	p += off;
	for (i = 0; i < (int)(KP_MAX_FRAME / 512); i++) {
		if (len < 512)
			break;
		if ((void *)(p + 512) > end)
			return -1;
		sum += (__u32)bpf_csum_diff(0, 0, (void *)p, 512, 0);
		p += 512;
		len -= 512;
	}
#define KP_CSUM_STEP(n)                                                       \
	if (len & (n)) {                                                      \
		if ((void *)(p + (n)) > end)                                  \
			return -1;                                            \
		sum += (__u32)bpf_csum_diff(0, 0, (void *)p, (n), 0);         \
		p += (n);                                                     \
	}
	KP_CSUM_STEP(256)
	KP_CSUM_STEP(128)
	KP_CSUM_STEP(64)
	KP_CSUM_STEP(32)
	KP_CSUM_STEP(16)
	KP_CSUM_STEP(8)
	KP_CSUM_STEP(4)
#undef KP_CSUM_STEP
	if (len & 2) {
		if ((void *)(p + 2) > end)
			return -1;
		sum += *(__u16 *)p;
		p += 2;
	}
	if (len & 1) {
		if ((void *)(p + 1) > end)
			return -1;
		sum += *p; /* padded with a zero byte: native value is the byte */
	}
	return kp_fold(sum);
}

#endif /* KP_BPF_CSUM_H */
