/* counters.h - per-CPU counter updates with the ABI's ids.
 *
 * API: kp_globals_get() is this CPU's block of global counters (looked up
 * once per packet); kp_count(g, id, n) adds to a global counter (enum
 * kp_counter_id); kp_count_drop(g, reason, kite_id) moves dropped_packets, the reason's own
 * counter and, when kite_id is not 0, the kite's drop counter that the
 * reason belongs to (quota, rate, state or other).  kp_kite_count() adds to
 * one per-kite counter (this CPU's kite slot).  Every counter has one
 * writer, its CPU: no atomics needed.
 */
#ifndef KP_BPF_COUNTERS_H
#define KP_BPF_COUNTERS_H

#include "maps.h"

static __always_inline struct kp_globals *kp_globals_get(void)
{
	return bpf_map_lookup_elem(&kp_globals, &kp_key0);
}

static __always_inline void kp_count(struct kp_globals *g, __u32 id, __u64 n)
{
	if (id < KP_CTR_MAX)
		g->ctr[id] += n;
}

static __always_inline void kp_kite_count(__u32 kite_id, __u32 id, __u64 n)
{
	struct kp_kite_slot *s = kp_slot(kite_id);

	if (s && id < KP_KCTR_MAX)
		s->ctrs.v[id] += n;
}

static __always_inline void kp_count_drop(struct kp_globals *g, __u32 reason, __u32 kite_id)
{
	if (reason < KP_DROP_MAX)
		g->drop[reason] += 1;
	kp_count(g, KP_CTR_DROP_PKTS, 1);
	if (kite_id)
		kp_kite_count(kite_id, kp_drop_kite_counter((enum kp_drop_reason)reason), 1);
}

#endif /* KP_BPF_COUNTERS_H */
