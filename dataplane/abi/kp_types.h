/* kp_types.h - fixed-width and byte-order types shared by C, C++ and BPF.
 *
 * API: includes <linux/types.h> for __u8.. __u64 and the __be16/__be32/__le64
 * byte-order annotations, so the same struct declarations compile in the BPF
 * program, the C++ fast path and the tools.  KP_STATIC_ASSERT checks layout in
 * both languages.
 */
#ifndef KP_ABI_TYPES_H
#define KP_ABI_TYPES_H

#include <linux/types.h>

#ifdef __cplusplus
#define KP_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define KP_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

#define KP_OFFSETOF(type, member) __builtin_offsetof(type, member)

/* Address families as carried on the wire and in tables (not AF_* values,
 * which differ between systems). */
enum kp_family {
	KP_AF_NONE = 0,
	KP_AF_INET = 4,
	KP_AF_INET6 = 6,
};

#endif /* KP_ABI_TYPES_H */
