/* siphash.h - SipHash-2-4 of the flow cookie input (kp_wire.h).
 *
 * API: kp_siphash24_3w(k0, k1, m0, m1, m2) returns SipHash-2-4 under the
 * 128-bit key (k0 || k1, each little endian, as the reference implementation
 * lays out its key) of exactly 24 bytes given as three little-endian 64-bit
 * words in registers (the encap path builds them there: reading back a
 * header just written field by field would stall).  kp_siphash24_12w(k0, k1, m0,
 * tail) is SipHash-2-4 of exactly 12 bytes: the little-endian word m0, then
 * the 4 bytes of `tail` (little endian), also in registers: an IPv4
 * client's cookie input (DATA header bytes [8, 16) || [28, 32)), two
 * compressions instead of four.  kp_cookie_words(k0, k1, family, w2, w3, w4)
 * is the cookie of a DATA header whose bytes [8, 32) are w2..w4: the 12-byte
 * input for family KP_AF_INET (w2 and the high half of w4), else 24 bytes.
 * Input lengths are fixed, so there is no tail handling and no loop: each
 * hash is straight-line code.
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

/* The shared steps: key setup, one compression (two rounds) of the word m,
 * and the finalisation (four rounds); they work on v0..v3 in scope. */
#define KP_SIP_INIT(k0, k1)                                                   \
	__u64 v0 = (k0) ^ 0x736f6d6570736575ull;                              \
	__u64 v1 = (k1) ^ 0x646f72616e646f6dull;                              \
	__u64 v2 = (k0) ^ 0x6c7967656e657261ull;                              \
	__u64 v3 = (k1) ^ 0x7465646279746573ull

#define KP_SIP_C2(m)                                                          \
	do {                                                                  \
		v3 ^= (m);                                                    \
		KP_SIPROUND(v0, v1, v2, v3);                                  \
		KP_SIPROUND(v0, v1, v2, v3);                                  \
		v0 ^= (m);                                                    \
	} while (0)

#define KP_SIP_FINISH()                                                       \
	do {                                                                  \
		v2 ^= 0xff;                                                   \
		KP_SIPROUND(v0, v1, v2, v3);                                  \
		KP_SIPROUND(v0, v1, v2, v3);                                  \
		KP_SIPROUND(v0, v1, v2, v3);                                  \
		KP_SIPROUND(v0, v1, v2, v3);                                  \
	} while (0)

/* m0..m2: the input as three little-endian words, held in registers. */
static __always_inline __u64 kp_siphash24_3w(__u64 k0, __u64 k1, __u64 m0, __u64 m1, __u64 m2)
{
	KP_SIP_INIT(k0, k1);

	KP_SIP_C2(m0);
	KP_SIP_C2(m1);
	KP_SIP_C2(m2);
	KP_SIP_C2((__u64)KP_COOKIE_INPUT_LEN << 56);
	KP_SIP_FINISH();
	return v0 ^ v1 ^ v2 ^ v3;
}

/* m0: input bytes [0, 8); tail: bytes [8, 12), both little endian. */
static __always_inline __u64 kp_siphash24_12w(__u64 k0, __u64 k1, __u64 m0, __u32 tail)
{
	KP_SIP_INIT(k0, k1);

	KP_SIP_C2(m0);
	KP_SIP_C2((__u64)KP_COOKIE_INPUT4_LEN << 56 | tail);
	KP_SIP_FINISH();
	return v0 ^ v1 ^ v2 ^ v3;
}

/* The flow cookie of a DATA header with client_family `family` whose bytes
 * [8, 16), [16, 24), [24, 32) are the little-endian words w2, w3, w4: for
 * KP_AF_INET the 12 bytes w2 || bytes [28, 32) (the IPv4 address, the high
 * half of w4), else the 24 bytes w2 || w3 || w4. */
static __always_inline __u64 kp_cookie_words(__u64 k0, __u64 k1, __u8 family, __u64 w2, __u64 w3,
					     __u64 w4)
{
	if (family == KP_AF_INET)
		return kp_siphash24_12w(k0, k1, w2, (__u32)(w4 >> 32));
	return kp_siphash24_3w(k0, k1, w2, w3, w4);
}

#endif /* KP_BPF_SIPHASH_H */
