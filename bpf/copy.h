/* copy.h - word-sized copies between packet, stack and map values.
 *
 * API: kp_copy64(dst, src, n) and kp_copy32(dst, src, n) move n bytes (a
 * multiple of 8 or 4) as 64- or 32-bit words; kp_copy_mac() moves six bytes
 * as three 16-bit words.  clang expands __builtin_memcpy of byte pointers
 * into single-byte moves for the BPF target (96 instructions for 48 bytes),
 * which showed up as tens of ns per packet.  Stack operands must be aligned
 * to the word size (the verifier is strict about stack alignment); packet
 * and map value operands may be unaligned on x86.
 */
#ifndef KP_BPF_COPY_H
#define KP_BPF_COPY_H

#include <linux/types.h>

static __always_inline void kp_copy64(void *dst, const void *src, int n)
{
	int i;

#pragma clang loop unroll(full)
	for (i = 0; i < n / 8; i++)
		((__u64 *)dst)[i] = ((const __u64 *)src)[i];
}

static __always_inline void kp_copy32(void *dst, const void *src, int n)
{
	int i;

#pragma clang loop unroll(full)
	for (i = 0; i < n / 4; i++)
		((__u32 *)dst)[i] = ((const __u32 *)src)[i];
}

static __always_inline void kp_copy_mac(void *dst, const void *src)
{
	((__u16 *)dst)[0] = ((const __u16 *)src)[0];
	((__u16 *)dst)[1] = ((const __u16 *)src)[1];
	((__u16 *)dst)[2] = ((const __u16 *)src)[2];
}

#endif /* KP_BPF_COPY_H */
