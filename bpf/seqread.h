/* seqread.h - consistent copies of kite and session entries.
 *
 * API: kp_kite_read(kite_id, dst) and kp_session_read(index, dst, n) copy one
 * 64-byte entry of kp_kites (or the first n bytes of one of kp_sessions)
 * into dst (a map value: the per-CPU kp_scratch) and return 0, or -1 when
 * the entry could not be read consistently.  User space writes an entry
 * through its mmap with a seqlock: it makes the entry's sequence word odd, copies the 64 bytes, then stores
 * the next even value.  A reader takes the word, copies the entry, takes the
 * word again and accepts the copy only if both reads agree and are even.
 * It tries twice; if a writer is still busy the caller treats the entry as
 * absent for this one packet (a 64-byte copy by the writer makes this
 * practically never happen).  Compiler barriers keep the three steps in
 * order; x86 keeps loads ordered with loads, and the JIT does not reorder.
 * kp_session_live_id(id) reads only a session's id and state, with the same
 * protocol, for the rendezvous pick.  kp_kite_idx_find() tries the kite
 * index (maps.h) and returns a kite id whose entry, copied, holds the key.
 */
#ifndef KP_BPF_SEQREAD_H
#define KP_BPF_SEQREAD_H

#include "copy.h"
#include "maps.h"

#define kp_barrier() asm volatile("" ::: "memory")

static __always_inline __u64 kp_read_seq(const __u64 *seq)
{
	return *(const volatile __u64 *)seq;
}

/* Copies the first n bytes (a multiple of 8, at most 64) of an entry from
 * src under the sequence word seq; 0 on success. */
static __always_inline int kp_seq_copy(void *dst, const void *src, const __u64 *seq, int n)
{
	__u64 s1, s2;
	int i;

#pragma unroll
	for (i = 0; i < 2; i++) {
		s1 = kp_read_seq(seq);
		kp_barrier();
		kp_copy64(dst, src, n);
		kp_barrier();
		s2 = kp_read_seq(seq);
		if (s1 == s2 && !(s1 & 1))
			return 0;
	}
	return -1;
}

static __always_inline int kp_kite_read(__u32 kite_id, struct kp_kite *dst)
{
	const struct kp_kite *src = bpf_map_lookup_elem(&kp_kites, &kite_id);
	const __u64 *seq = bpf_map_lookup_elem(&kp_kite_seq, &kite_id);

	if (!src || !seq)
		return -1;
	return kp_seq_copy(dst, src, seq, sizeof(*dst));
}

/* n: how many leading bytes of the session the caller uses (a multiple of 8;
 * the rest of dst is left as it was). */
static __always_inline int kp_session_read(__u32 idx, struct kp_session *dst, int n)
{
	const struct kp_session *src = bpf_map_lookup_elem(&kp_sessions, &idx);
	const __u64 *seq = bpf_map_lookup_elem(&kp_session_seq, &idx);

	if (!src || !seq)
		return -1;
	return kp_seq_copy(dst, src, seq, n);
}

/* 1 if the session slot of `id` holds exactly `id`, LIVE (first 8 bytes
 * read under the sequence word), else 0. */
static __always_inline int kp_session_live_id(__u32 id)
{
	__u32 idx = id & KP_SESSION_INDEX_MASK;
	const struct kp_session *src = bpf_map_lookup_elem(&kp_sessions, &idx);
	const __u64 *seq = bpf_map_lookup_elem(&kp_session_seq, &idx);
	__u64 s1, s2, w;
	int i;

	if (!src || !seq)
		return 0;
#pragma unroll
	for (i = 0; i < 2; i++) {
		s1 = kp_read_seq(seq);
		kp_barrier();
		w = *(const volatile __u64 *)src;
		kp_barrier();
		s2 = kp_read_seq(seq);
		if (s1 == s2 && !(s1 & 1))
			return (__u32)w == id && (__u8)(w >> 32) == KP_SESSION_LIVE;
	}
	return 0;
}

/* The kite index (maps.h): the id in the slot of the key's pair that carries
 * its fingerprint, if that kite, copied into dst, is not EMPTY and has
 * exactly the key (a0, a1: address words; pf: port, family, pad); else 0
 * and the caller asks the kite hash. */
static __always_inline __u32 kp_kite_idx_find(__u64 a0, __u64 a1, __u32 pf, struct kp_kite *dst)
{
	__u64 h = kp_kite_idx_hash(a0, a1, pf), want = kp_kite_idx_entry(h, 0), v;
	__u32 s0 = kp_kite_idx_pair(h), s1 = s0 | 1, id;
	const __u64 *p0 = bpf_map_lookup_elem(&kp_kite_idx, &s0);
	const __u64 *p1 = bpf_map_lookup_elem(&kp_kite_idx, &s1);
	const __u64 *k;

	if (!p0 || !p1)
		return 0;
	v = *(const volatile __u64 *)p0;
	if ((v ^ want) >> 32) /* not this key's fingerprint: the other slot */
		v = *(const volatile __u64 *)p1;
	if ((v ^ want) >> 32)
		return 0;
	id = (__u32)v;
	if (id < 1 || id >= KP_MAX_KITES)
		return 0;
	if (kp_kite_read(id, dst) || dst->state == KP_KITE_EMPTY)
		return 0;
	/* dst is a map value, 8-byte aligned; without saying so clang splits
	 * each word load in two (struct kp_kite is only 4-byte aligned) */
	k = __builtin_assume_aligned(dst->key.addr, 8);
	if (k[0] != a0 || k[1] != a1 || *(const __u32 *)&dst->key.port != pf)
		return 0;
	return id;
}

static __always_inline struct kp_scratch *kp_scratch_get(void)
{
	return bpf_map_lookup_elem(&kp_scratch, &kp_key0);
}

#endif /* KP_BPF_SEQREAD_H */
