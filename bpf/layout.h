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

#endif /* KP_BPF_LAYOUT_H */
