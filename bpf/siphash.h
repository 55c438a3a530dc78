/* siphash.h - SipHash-2-4 of the 24-byte flow cookie input.
 *
 * API: kp_siphash24_3w(k0, k1, m0, m1, m2) returns SipHash-2-4 under the
 * 128-bit key (k0 || k1, each little endian, as the reference implementation
 * lays out its key) of exactly 24 bytes given as three little-endian 64-bit
 * words in registers (the encap path builds them there: reading back a
 * header just written field by field would stall); kp_siphash24_24(k0, k1,
 * in) is the same over three words in memory.
 * The input length is fixed at KP_COOKIE_INPUT_LEN, so there is no tail
 * handling and no loop: the whole hash is straight-line code.
 */
#ifndef KP_BPF_SIPHASH_H
#define KP_BPF_SIPHASH_H

#include <linux/types.h>

#include "kp_wire.h"

#define KP_ROTL64(x, b) (((x) << (b)) | ((x) >> (64 - (b))))

#define KP_SIPROUND(v0, v1, v2, v3)                                           \
	do {                                                                  \
		v0 += v1;                                                     \
		v1 = KP_ROTL64(v1, 13);                                       \
		v1 ^= v0;                                                     \
		v0 = KP_ROTL64(v0, 32);                                       \
		v2 += v3;                                                     \
		v3 = KP_ROTL64(v3, 16);                                       \
		v3 ^= v2;                                                     \
		v0 += v3;                                                     \
		v3 = KP_ROTL64(v3, 21);                                       \
		v3 ^= v0;                                                     \
		v2 += v1;                                                     \
		v1 = KP_ROTL64(v1, 17);                                       \
		v1 ^= v2;                                                     \
		v2 = KP_ROTL64(v2, 32);                                       \
	} while (0)

/* m0..m2: the input as three little-endian words, held in registers. */
static __always_inline __u64 kp_siphash24_3w(__u64 k0, __u64 k1, __u64 m0, __u64 m1, __u64 m2)
{
	__u64 v0 = k0 ^ 0x736f6d6570736575ull;
	__u64 v1 = k1 ^ 0x646f72616e646f6dull;
	__u64 v2 = k0 ^ 0x6c7967656e657261ull;
	__u64 v3 = k1 ^ 0x7465646279746573ull;
	__u64 m;

#define KP_SIP_C2(m)                                                          \
	do {                                                                  \
		v3 ^= (m);                                                    \
		KP_SIPROUND(v0, v1, v2, v3);                                  \
		KP_SIPROUND(v0, v1, v2, v3);                                  \
		v0 ^= (m);                                                    \
	} while (0)
	KP_SIP_C2(m0);
	KP_SIP_C2(m1);
	KP_SIP_C2(m2);
#undef KP_SIP_C2
	m = (__u64)KP_COOKIE_INPUT_LEN << 56;
	v3 ^= m;
	KP_SIPROUND(v0, v1, v2, v3);
	KP_SIPROUND(v0, v1, v2, v3);
	v0 ^= m;
	v2 ^= 0xff;
	KP_SIPROUND(v0, v1, v2, v3);
	KP_SIPROUND(v0, v1, v2, v3);
	KP_SIPROUND(v0, v1, v2, v3);
	KP_SIPROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

/* in: three little-endian words (the host is little endian, as BPF on x86). */
static __always_inline __u64 kp_siphash24_24(__u64 k0, __u64 k1, const __u64 in[3])
{
	return kp_siphash24_3w(k0, k1, in[0], in[1], in[2]);
}

#endif /* KP_BPF_SIPHASH_H */
