/* police.h - per-CPU quota credit and token buckets of one kite.
 *
 * API: kp_police_apply(cfg, kite, pol, &kite_id, payload) applies steps 5 and
 * 6 of docs/forwarding.md section 3 (quota, then packets and bits rate, per
 * section 5) to this CPU's police state and returns KP_DROP_NONE or the drop
 * reason.  Buckets are refilled even when the datagram is then dropped, and
 * consumed only when both have enough.  The refill is computed exactly
 * (floor of elapsed x rate / 10^9) without 128-bit arithmetic: elapsed time
 * is split into whole seconds and a remainder, and the result saturates,
 * which is exact because it is clamped to the bucket depth anyway.
 */
#ifndef KP_BPF_POLICE_H
#define KP_BPF_POLICE_H

#include <bpf/bpf_helpers.h>

#include "maps.h"

#define KP_NS_PER_S 1000000000ull

/* Tests pin the clock (the golden vectors give "now"); 0 = monotonic clock.
 * Read-only after load, so the verifier drops the dead branch. */
const volatile __u64 kp_fixed_now_ns = 0;

static __always_inline __u64 kp_now(void)
{
	return kp_fixed_now_ns ? kp_fixed_now_ns : bpf_ktime_get_ns();
}
#define KP_SAT 0x7fffffffffffffffull

static __always_inline __u64 kp_sat_add(__u64 a, __u64 b)
{
	__u64 r = a + b;

	return (r < a || r > KP_SAT) ? KP_SAT : r;
}

/* floor(elapsed * r * 65536 / 1e9), saturated, for r < 2^32. */
static __always_inline __u64 kp_refill_pkts(__u64 elapsed, __u64 r)
{
	__u64 q = elapsed / KP_NS_PER_S, rem = elapsed % KP_NS_PER_S;
	__u64 p, whole;

	if (q >= (1ull << 15))
		return KP_SAT;
	whole = q * (r << 16); /* < 2^15 * 2^48 */
	/* rem * r * 2^16 / 1e9 = rem * r * 2^7 / 1953125, done in two parts */
	p = rem * r; /* < 2^30 * 2^32 */
	return kp_sat_add(whole, (p / 1953125) * 128 + ((p % 1953125) * 128) / 1953125);
}

/* floor(elapsed * r_kbps / 1e6), saturated. */
static __always_inline __u64 kp_refill_bits(__u64 elapsed, __u64 r)
{
	__u64 q = elapsed / 1000000ull, rem = elapsed % 1000000ull;

	if (q >= (1ull << 30))
		return KP_SAT;
	return kp_sat_add(q * r, rem * r / 1000000ull);
}

static __always_inline __u64 kp_min(__u64 a, __u64 b)
{
	return a < b ? a : b;
}

static __always_inline __u32 kp_police_apply(const struct kp_config *cfg, const struct kp_kite *kite,
					     struct kp_kite_police *pol, const __u32 *kite_id,
					     __u32 payload)
{
	const struct kp_kite_credit *credit;

	__u64 workers = cfg->n_workers ? cfg->n_workers : 1;
	__u64 burst = kite->burst_ms ? kite->burst_ms : 100;
	__u64 r_pps = kite->rate_pps / workers, r_kbps = kite->rate_kbps / workers;
	__u64 elapsed, cap, now;

	if (kite->flags & KP_KITE_F_QUOTA) {
		credit = bpf_map_lookup_elem(&kp_credit, kite_id); /* quota kites only */
		if (!credit || pol->used_bytes >= credit->granted_bytes)
			return KP_DROP_QUOTA_EXHAUSTED;
	}
	if (!kite->rate_pps && !kite->rate_kbps)
		return KP_DROP_NONE;
	if (r_pps < 1)
		r_pps = 1;
	if (r_kbps < 1)
		r_kbps = 1;
	now = kp_now(); /* only rate-limited kites pay for the clock */
	elapsed = now - pol->last_ns;
	if (now < pol->last_ns)
		elapsed = 0;
	if (kite->rate_pps) {
		cap = r_pps * 65536 * burst / 1000;
		if (cap < 65536)
			cap = 65536;
		pol->pkt_tokens = kp_min(cap, kp_sat_add(pol->pkt_tokens,
							 kp_refill_pkts(elapsed, r_pps)));
	}
	if (kite->rate_kbps) {
		cap = r_kbps * burst;
		if (cap < 8 * 65535)
			cap = 8 * 65535;
		pol->bit_tokens = kp_min(cap, kp_sat_add(pol->bit_tokens,
							 kp_refill_bits(elapsed, r_kbps)));
	}
	pol->last_ns = now;
	if (kite->rate_pps && pol->pkt_tokens < 65536)
		return KP_DROP_RATE_PACKETS;
	if (kite->rate_kbps && pol->bit_tokens < 8ull * payload)
		return KP_DROP_RATE_BITS;
	if (kite->rate_pps)
		pol->pkt_tokens -= 65536;
	if (kite->rate_kbps)
		pol->bit_tokens -= 8ull * payload;
	return KP_DROP_NONE;
}

#endif /* KP_BPF_POLICE_H */
