/* csum.h - Internet checksum arithmetic for the XDP program.
 *
 * API: every sum is a ones' complement sum of 16-bit words in native (little
 * endian) load order, kept in a __u64 accumulator and folded with kp_fold();
 * storing a folded value as a native __u16 yields correct network bytes.
 * kp_csum_range() sums a byte range of the packet 64 bytes per step; it is
 * inlined (it was a global function, verified once, but a BPF-to-BPF call
 * and its return cost ~10-20 ns here: this kernel returns through the SRSO
 * "safe RET" thunk); the verifier still accepts the program in about the
 * same time and returns a 32-bit partial sum (kp_fold32).  kp_sum32() sums
 * a small stack object.  kp_csum_sub32() is ones' complement subtraction of
 * a 32-bit partial sum, unfolded, used to take the DATA header out of a
 * tunnel frame's payload sum.
 */
#ifndef KP_BPF_CSUM_H
#define KP_BPF_CSUM_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* Largest frame the program handles (XDP frames are one page). */
#define KP_MAX_FRAME 4096u

/* True when [p, p + n) is beyond the packet.  The barrier keeps clang from
 * rewriting the test into arithmetic on data_end, which the verifier refuses. */
#define KP_PKT_SHORT(p, n, end)                                               \
	({                                                                    \
		void *__q = (void *)(p) + (n);                                \
		asm volatile("" : "+r"(__q));                                 \
		__q > (void *)(end);                                          \
	})

/* End-around-carry folds without a loop of masks (BPF has no rotate and no
 * add-with-carry, so each halving step cost five instructions as mask,
 * shift, add): s plus s rotated by 32 carries the sum of its two halves,
 * end-around carry included, in its high half (7 instructions for 64 -> 32
 * bits instead of 10); for x < 2^32, x * 0x10001 + (x >> 16) carries the
 * end-around sum of its 16-bit halves in bits 16-31 (5 instead of 8).  Both
 * give exactly the values of repeated halving: 0 only for 0, else the
 * representative of its residue in [1, 2^n - 1] for n = 32 or 16. */
static __always_inline __u32 kp_fold32(__u64 s)
{
	return (s + (s << 32 | s >> 32)) >> 32;
}

static __always_inline __u16 kp_fold(__u64 s)
{
	__u64 x = kp_fold32(s);

	return (__u16)((x * 0x10001 + (x >> 16)) >> 16);
}

/* a - b in ones' complement arithmetic, unfolded: b is a 32-bit partial sum
 * and 0xffffffff = 0xffff * 0x10001 counts as zero, so a + (0xffffffff - b)
 * has the residue of a - b.  Add the result to a sum that is folded later. */
static __always_inline __u64 kp_csum_sub32(__u64 a, __u32 b)
{
	return a + (__u32)~b;
}

/* Final checksum field from a folded sum; a computed 0 is sent as 0xffff. */
static __always_inline __u16 kp_csum_final(__u64 sum)
{
	__u16 c = (__u16)~kp_fold(sum);

	return c ? c : 0xffff;
}

/* Sum of a stack object of `n` 32-bit words (4-byte aligned). */
static __always_inline __u64 kp_sum32(const void *obj, int n)
{
	const __u32 *w = obj;
	__u64 sum = 0;
	int i;

#pragma unroll
	for (i = 0; i < n; i++)
		sum += w[i];
	return sum;
}

/* Sum of [off, off + len) of the packet folded to 32 bits (kp_fold32; fold
 * it with kp_fold for a 16-bit value); negative if out of bounds.  Direct
 * packet loads (helper calls cost more), 64 bytes per step with one bounds
 * check, as 32-bit words added into two 64-bit accumulators: BPF has no
 * add-with-carry, and two loads and two adds per 8 bytes beat one 64-bit
 * load split into halves (mask, shift, two adds); the two accumulators let
 * the additions run in parallel.  No overflow: at most 1024 words of
 * < 2^32 each. */
static __always_inline __s64 kp_csum_range(struct xdp_md *ctx, __u32 off, __u32 len)
{
	void *end = (void *)(long)ctx->data_end;
	__u8 *p = (void *)(long)ctx->data;
	const __u32 *w;
	__u64 a = 0, b = 0;
	int i;

	if (off >= KP_MAX_FRAME || len >= KP_MAX_FRAME)
		return -1;
	/* keep the bounds visible to the verifier: clang would merge them */
	asm volatile("" : "+r"(off), "+r"(len));
	off &= KP_MAX_FRAME - 1;
	len &= KP_MAX_FRAME - 1;
	p += off;
	for (i = 0; i < (int)(KP_MAX_FRAME / 64); i++) {
		if (len < 64)
			break;
		if (KP_PKT_SHORT(p, 64, end))
			return -1;
		w = (const __u32 *)p;
		a += (__u64)w[0] + w[2] + w[4] + w[6] + w[8] + w[10] + w[12] + w[14];
		b += (__u64)w[1] + w[3] + w[5] + w[7] + w[9] + w[11] + w[13] + w[15];
		p += 64;
		len -= 64;
	}
	if (len & 32) {
		if (KP_PKT_SHORT(p, 32, end))
			return -1;
		w = (const __u32 *)p;
		a += (__u64)w[0] + w[2] + w[4] + w[6];
		b += (__u64)w[1] + w[3] + w[5] + w[7];
		p += 32;
	}
	if (len & 16) {
		if (KP_PKT_SHORT(p, 16, end))
			return -1;
		w = (const __u32 *)p;
		a += (__u64)w[0] + w[2];
		b += (__u64)w[1] + w[3];
		p += 16;
	}
	if (len & 8) {
		if (KP_PKT_SHORT(p, 8, end))
			return -1;
		w = (const __u32 *)p;
		a += w[0];
		b += w[1];
		p += 8;
	}
	if (len & 4) {
		if (KP_PKT_SHORT(p, 4, end))
			return -1;
		a += *(__u32 *)p;
		p += 4;
	}
	if (len & 2) {
		if (KP_PKT_SHORT(p, 2, end))
			return -1;
		b += *(__u16 *)p;
		p += 2;
	}
	if (len & 1) {
		if (KP_PKT_SHORT(p, 1, end))
			return -1;
		a += *p; /* padded with a zero byte: native value is the byte */
	}
	return kp_fold32(a + b);
}

#endif /* KP_BPF_CSUM_H */
