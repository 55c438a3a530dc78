/* layout.h - memory layout of the XDP program's mmapable per-kite state,
 * shared by the BPF program and the user-space backend (C and C++).
 *
 * API: struct kp_kite_slot is what one CPU keeps for one kite: its counters
 * (enum kp_kite_counter_id) and its police state (token buckets, quota
 * spent).  The map kp_kite_state is a BPF_F_MMAPABLE array of slots laid out
 * [cpu][kite]: slot index = cpu * max_kites + kite_id.  Each CPU is the only
 * writer of its own slots (the control side writes a kite's slots only while
 * no packet can reach them, or for tests), so plain adds are enough and
 * user space sums the CPUs' slots with plain loads through the mapping.
 * This is an XDP-mode
 * layout, not part of the ABI: the ABI structs and ids are only used.
 * struct kp_globals is the per-CPU block of global counters.
 * kp_kite_idx_hash(a0, a1, port_family) hashes a kite key (its two address
 * words and its last word: port, family, pad, little endian) for the kite
 * index kp_kite_idx, a BPF_F_MMAPABLE array of KP_KITE_IDX_SIZE u64 slots
 * written by user space: a hint tried before the kite hash (see bpf/maps.h),
 * so the same functions must run on both sides.  A key may sit in either
 * slot of its pair (kp_kite_idx_pair); a slot holds kp_kite_idx_entry(hash,
 * kite id), so the program picks the slot by fingerprint without reading
 * the kite.
 */
#ifndef KP_BPF_LAYOUT_H
#define KP_BPF_LAYOUT_H

#include "kp_tables.h"

struct kp_kite_slot {
	struct kp_kite_counters ctrs; /*  0 */
	struct kp_kite_police pol;    /* 64 */
};
KP_STATIC_ASSERT(sizeof(struct kp_kite_slot) == 96, "kp_kite_slot");

/* This CPU's global counters (KP_GLOBAL_COUNTERS) and drop reasons
 * (KP_DROP_REASONS) in one block: one per-CPU lookup per packet.  The map
 * kp_globals is a one-entry per-CPU array of it. */
struct kp_globals {
	__u64 ctr[KP_CTR_MAX];
	__u64 drop[KP_DROP_MAX];
};

#define KP_KITE_IDX_BITS 21
#define KP_KITE_IDX_SIZE (1u << KP_KITE_IDX_BITS)

static inline __attribute__((always_inline)) __u64 kp_kite_idx_hash(__u64 a0, __u64 a1,
								   __u32 port_family)
{
	__u64 x = a0 ^ (a1 * 0x9e3779b97f4a7c15ull) ^ ((__u64)port_family * 0xc2b2ae3d27d4eb4full);

	x ^= x >> 32;
	x *= 0xd6e8feb86659fd93ull;
	return x;
}

/* First slot of the key's pair (the other is this | 1). */
static inline __attribute__((always_inline)) __u32 kp_kite_idx_pair(__u64 h)
{
	return (__u32)(h >> (64 - KP_KITE_IDX_BITS)) & ~1u;
}

/* What a slot holds for a kite: the hash's low 32 bits (a fingerprint) and
 * the kite id; 0 is an empty slot. */
static inline __attribute__((always_inline)) __u64 kp_kite_idx_entry(__u64 h, __u32 kite_id)
{
	return h << 32 | kite_id;
}

#endif /* KP_BPF_LAYOUT_H */
