/* maps.h - every map of the XDP program, with ABI keys and values.
 *
 * API: names carry the kp_ prefix (they are pinned under
 * /sys/fs/bpf/kiteplane/<ifname>/ by the XDP mode).  Sizes here are the
 * defaults; the loader resizes the kite and session maps before load.
 *   kp_kite_hash   hash  kp_kite_key -> __u32 kite_id
 *   kp_kite_idx    mmapable array of KP_KITE_IDX_SIZE __u64 slots, each 0 or
 *                  fingerprint | kite id, a key in either slot of its pair
 *                  (layout.h): a hint, written by user space after the hash
 *                  entry and cleared before it goes.
 *                  The program takes the id only if that kite, read under
 *                  its sequence word, has exactly the key; otherwise (empty
 *                  slot, collision, key moved) it asks the hash.  An inlined
 *                  array lookup instead of a helper call (~50 ns here).
 *   kp_kites       mmapable array by kite_id: kp_kite, with kp_kite_seq
 *   kp_sessions    mmapable array by session index: kp_session, with
 *                  kp_session_seq (sequence words: see seqread.h)
 *   kp_scratch     per-CPU copy space for kite and session entries
 *   kp_cfg         array of two kp_config (double buffer) and kp_cfg_sel,
 *                  one u32: 0 = unconfigured, 1 + the live slot.  The
 *                  control side writes the idle slot, flips kp_cfg_sel, and
 *                  waits for a grace period before it may write that slot
 *                  again, so readers never see a torn config and both
 *                  lookups are plain (inlined) array lookups.
 *   kp_config      array-of-maps, one slot holding a one-element array with
 *                  the same kp_config: the control side's copy, and its
 *                  grace-period tool (storing a slot waits for readers).
 *   kp_kite_state  mmapable array of kp_kite_slot (layout.h) laid out
 *                  [cpu][kite]: counters and police state, each slot
 *                  written only by its CPU; user space reads it mmapped
 *   kp_credit      per-CPU array by kite_id: quota granted (control side)
 *   kp_globals     per-CPU array, one struct kp_globals (layout.h): global
 *                  counters and drop reasons in one block
 *   kp_cpumap, kp_cpus   CPU spreading for NICs without RSS (--cpumap)
 * kp_config_get() returns the live config or NULL; kp_slot(kite_id) this
 * CPU's kp_kite_slot of a kite, or NULL.  kp_max_kites and kp_n_cpus are set
 * by the loader before load (read-only data) and size kp_kite_state.
 */
#ifndef KP_BPF_MAPS_H
#define KP_BPF_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "kp_counters.h"
#include "kp_tables.h"
#include "layout.h"

/* Set by the loader: kite slots per CPU and CPUs in kp_kite_state. */
const volatile __u32 kp_max_kites = KP_MAX_KITES;
const volatile __u32 kp_n_cpus = 1;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KP_MAX_KITES);
	__type(key, struct kp_kite_key);
	__type(value, __u32);
} kp_kite_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, KP_KITE_IDX_SIZE);
	__type(key, __u32);
	__type(value, __u64);
} kp_kite_idx SEC(".maps");

/* Kites by id and sessions by index: mmapable arrays (lookups are inlined
 * by the verifier) written by user space through the mapping.  Each entry has
 * a sequence word in the parallel kp_*_seq array (odd while user space
 * writes the entry); readers copy an entry between two reads of it
 * (seqread.h). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, KP_MAX_KITES);
	__type(key, __u32);
	__type(value, struct kp_kite);
} kp_kites SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, KP_MAX_KITES);
	__type(key, __u32);
	__type(value, __u64);
} kp_kite_seq SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, KP_MAX_SESSIONS);
	__type(key, __u32);
	__type(value, struct kp_session);
} kp_sessions SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, KP_MAX_SESSIONS);
	__type(key, __u32);
	__type(value, __u64);
} kp_session_seq SEC(".maps");

/* Per-CPU scratch for entries copied out of kp_kites / kp_sessions (the
 * stack is nearly full).  One program run at a time per CPU. */
struct kp_scratch {
	struct kp_kite kite;
	struct kp_session sess;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kp_scratch);
} kp_scratch SEC(".maps");

struct kp_config_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct kp_config));
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct kp_config_inner);
} kp_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct kp_config);
} kp_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} kp_cfg_sel SEC(".maps");

/* Resized by the loader to kp_n_cpus * kp_max_kites. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, KP_MAX_KITES);
	__type(key, __u32);
	__type(value, struct kp_kite_slot);
} kp_kite_state SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KP_MAX_KITES);
	__type(key, __u32);
	__type(value, struct kp_kite_credit);
} kp_credit SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kp_globals);
} kp_globals SEC(".maps");

/* CPU spreading: kp_cpus[0..n) lists the target CPUs, slot KP_MAX_WORKERS
 * (the last) holds n; kp_cpumap maps a CPU to its queue running
 * kp_xdp_cpumap.  CPU ids are below KP_MAX_WORKERS. */
#define KP_MAX_CPUS KP_MAX_WORKERS
#define KP_CPUS_COUNT KP_MAX_WORKERS

struct {
	__uint(type, BPF_MAP_TYPE_CPUMAP);
	__uint(max_entries, KP_MAX_CPUS);
	__type(key, __u32);
	__type(value, struct bpf_cpumap_val);
} kp_cpumap SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KP_MAX_CPUS + 1);
	__type(key, __u32);
	__type(value, __u32);
} kp_cpus SEC(".maps");

/* Key of the constant-key lookups, in read-only data: the inlined array
 * lookup loads its key through a pointer, and a key stored to the stack
 * just before comes back by store-to-load forwarding, which puts several
 * cycles on the way to the value (these lookups stalled in profiles). */
static const __u32 kp_key0 __attribute__((used)) = 0;

static __always_inline const struct kp_config *kp_config_get(void)
{
	const __u32 *sel = bpf_map_lookup_elem(&kp_cfg_sel, &kp_key0);
	__u32 slot;

	if (!sel)
		return 0;
	slot = *(const volatile __u32 *)sel;
	if (!slot)
		return 0;
	slot -= 1;
	return bpf_map_lookup_elem(&kp_cfg, &slot);
}

/* This CPU's slot of a kite: one inlined array lookup. */
static __always_inline struct kp_kite_slot *kp_slot(__u32 kite_id)
{
	__u32 cpu = bpf_get_smp_processor_id();
	__u32 idx;

	if (cpu >= kp_n_cpus || kite_id >= kp_max_kites)
		return 0;
	idx = cpu * kp_max_kites + kite_id;
	return bpf_map_lookup_elem(&kp_kite_state, &idx);
}

#endif /* KP_BPF_MAPS_H */
