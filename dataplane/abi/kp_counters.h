/* kp_counters.h - the one list of kiteplane counters and drop reasons.
 *
 * API: every counter id and drop reason the fast paths can move is declared
 * here exactly once, as an X-macro list of (NAME, "metric_name", "help").
 * C (bpf/), C++ (dataplane/, controlplane/, tools/) and the metrics exporter
 * expand the same lists, so names can never drift from ids.  Ids are dense,
 * start at 0 and are part of the control-socket ABI: append, never reorder.
 */
#ifndef KP_ABI_COUNTERS_H
#define KP_ABI_COUNTERS_H

/* Global per-core counters (packets and bytes seen by the fast path). */
#define KP_GLOBAL_COUNTERS(X)                                                    \
	X(RX_PKTS, "rx_packets", "Frames received by the fast path")                \
	X(RX_BYTES, "rx_bytes", "Bytes received by the fast path (whole frames)")  \
	X(TX_PKTS, "tx_packets", "Frames transmitted by the fast path")             \
	X(TX_BYTES, "tx_bytes", "Bytes transmitted by the fast path")               \
	X(ENCAP_PKTS, "encap_packets", "Client datagrams encapsulated toward a connector") \
	X(DECAP_PKTS, "decap_packets", "Connector replies decapsulated toward a client") \
	X(EXCEPTION_PKTS, "exception_packets", "Frames handed to the kernel (exception path)") \
	X(FRAGMENT_PKTS, "fragment_packets", "IP fragments handed to the kernel for reassembly") \
	X(CONTROL_PKTS, "control_packets", "Tunnel control frames handed to the control plane") \
	X(DROP_PKTS, "dropped_packets", "Frames dropped, all reasons together")

/* Drop reasons.  One closed, numbered list: every drop in either fast path
 * names exactly one of these.  KP_DROP_NONE is not a drop. */
#define KP_DROP_REASONS(X)                                                       \
	X(NONE, "none", "Not dropped")                                              \
	X(ETH_TRUNCATED, "eth_truncated", "Frame shorter than an Ethernet header")  \
	X(VLAN_TRUNCATED, "vlan_truncated", "802.1Q tag cut short")                 \
	X(VLAN_STACKED, "vlan_stacked", "More than one VLAN tag (QinQ) on the frame") \
	X(IP4_TRUNCATED, "ipv4_truncated", "IPv4 header cut short")                  \
	X(IP4_BAD_VERSION, "ipv4_bad_version", "IPv4 EtherType but version is not 4") \
	X(IP4_BAD_IHL, "ipv4_bad_ihl", "IPv4 header length below 20 bytes")          \
	X(IP4_OPTIONS, "ipv4_options", "IPv4 header carries options")                \
	X(IP4_BAD_LENGTH, "ipv4_bad_length", "IPv4 total length disagrees with the frame") \
	X(IP4_BAD_CHECKSUM, "ipv4_bad_checksum", "IPv4 header checksum is wrong")    \
	X(IP6_TRUNCATED, "ipv6_truncated", "IPv6 header cut short")                  \
	X(IP6_BAD_VERSION, "ipv6_bad_version", "IPv6 EtherType but version is not 6") \
	X(IP6_BAD_LENGTH, "ipv6_bad_length", "IPv6 payload length disagrees with the frame") \
	X(IP6_EXT_HEADER, "ipv6_ext_header", "IPv6 extension header before UDP")     \
	X(UDP_TRUNCATED, "udp_truncated", "UDP header cut short")                    \
	X(UDP_BAD_LENGTH, "udp_bad_length", "UDP length disagrees with the IP payload") \
	X(UDP_BAD_CHECKSUM, "udp_bad_checksum", "UDP checksum is wrong (or zero over IPv6)") \
	X(BOGON_SOURCE, "bogon_source", "Source is loopback, ours or a configured bogon") \
	X(TUN_TRUNCATED, "tunnel_truncated", "Tunnel frame or DATA header cut short") \
	X(TUN_BAD_MAGIC, "tunnel_bad_magic", "Frame to a tunnel port without the kiteplane magic") \
	X(TUN_BAD_VERSION, "tunnel_bad_version", "Tunnel frame of an unknown version") \
	X(TUN_BAD_FAMILY, "tunnel_bad_family", "Tunnel DATA header names an unknown address family") \
	X(TUN_UNKNOWN_SESSION, "tunnel_unknown_session", "DATA frame for a session that does not exist") \
	X(TUN_WRONG_SOURCE, "tunnel_wrong_source", "DATA frame from an address other than the session's connector") \
	X(TUN_BAD_COOKIE, "tunnel_bad_cookie", "DATA frame whose flow cookie does not verify") \
	X(TUN_KITE_NOT_IN_SESSION, "tunnel_kite_not_in_session", "DATA frame for a kite the session does not serve") \
	X(TUN_BOGON_CLIENT, "tunnel_bogon_client", "DATA frame toward loopback, our own or a bogon address") \
	X(KITE_DISABLED, "kite_disabled", "Kite exists but is disabled (quota, policy, drain)") \
	X(KITE_NO_SESSION, "kite_no_session", "Kite has no live session to carry the datagram") \
	X(QUOTA_EXHAUSTED, "quota_exhausted", "Kite has no quota credit left on this core") \
	X(RATE_PACKETS, "rate_packets", "Kite over its packets-per-second rate")     \
	X(RATE_BITS, "rate_bits", "Kite over its bits-per-second rate")              \
	X(MTU_EXCEEDED, "mtu_exceeded", "Encapsulated frame larger than the path MTU") \
	X(NO_HEADROOM, "no_headroom", "Buffer has no room to add the tunnel headers") \
	X(NO_NEXTHOP, "no_nexthop", "Next-hop MAC address unresolved")              \
	X(LAME_DUCK_CLOSED, "lame_duck_closed", "Front-end past its lame-duck deadline") \
	X(EXCEPTION_QUEUE_FULL, "exception_queue_full", "Exception path queue to the kernel was full") \
	X(TX_QUEUE_FULL, "tx_queue_full", "Transmit ring was full")

#define KP_X_ENUM_CTR(name, metric, help) KP_CTR_##name,
#define KP_X_ENUM_DROP(name, metric, help) KP_DROP_##name,
enum kp_counter_id { KP_GLOBAL_COUNTERS(KP_X_ENUM_CTR) KP_CTR_MAX };
enum kp_drop_reason { KP_DROP_REASONS(KP_X_ENUM_DROP) KP_DROP_MAX };
#undef KP_X_ENUM_CTR
#undef KP_X_ENUM_DROP

/* Per-kite counters, one cache line per kite per core.  "rx" is toward the
 * kite (client -> connector), "tx" is toward the client (connector -> client). */
#define KP_KITE_COUNTERS(X)                                                       \
	X(RX_PKTS, "kite_rx_packets", "Client datagrams forwarded to the kite")      \
	X(RX_BYTES, "kite_rx_bytes", "Client UDP payload bytes forwarded to the kite") \
	X(TX_PKTS, "kite_tx_packets", "Replies forwarded from the kite to clients")  \
	X(TX_BYTES, "kite_tx_bytes", "Reply UDP payload bytes forwarded to clients") \
	X(DROP_QUOTA, "kite_dropped_quota", "Datagrams dropped: kite out of quota")  \
	X(DROP_RATE, "kite_dropped_rate", "Datagrams dropped: kite over its rate")   \
	X(DROP_STATE, "kite_dropped_state", "Datagrams dropped: kite disabled or without session") \
	X(DROP_OTHER, "kite_dropped_other", "Datagrams dropped for another reason (MTU, cookie, ...)")

#define KP_X_ENUM_KCTR(name, metric, help) KP_KCTR_##name,
enum kp_kite_counter_id { KP_KITE_COUNTERS(KP_X_ENUM_KCTR) KP_KCTR_MAX };
#undef KP_X_ENUM_KCTR

/* The per-kite counter that a drop of `reason`, charged to a kite, moves.
 * Shared by both fast paths so they always file a drop under the same one. */
static inline enum kp_kite_counter_id kp_drop_kite_counter(enum kp_drop_reason reason)
{
	switch (reason) {
	case KP_DROP_QUOTA_EXHAUSTED:
		return KP_KCTR_DROP_QUOTA;
	case KP_DROP_RATE_PACKETS:
	case KP_DROP_RATE_BITS:
		return KP_KCTR_DROP_RATE;
	case KP_DROP_KITE_DISABLED:
	case KP_DROP_KITE_NO_SESSION:
	case KP_DROP_LAME_DUCK_CLOSED:
		return KP_KCTR_DROP_STATE;
	default:
		return KP_KCTR_DROP_OTHER;
	}
}

/* True when an IPv6 next header is one of the extension headers both fast
 * paths drop as KP_DROP_IP6_EXT_HEADER (hop-by-hop, 0, and fragment, 44, go
 * to the kernel instead; docs/forwarding.md section 1). */
static inline int kp_drops_ip6_ext_header(unsigned int next_header)
{
	switch (next_header) {
	case 43:  /* routing */
	case 50:  /* ESP */
	case 51:  /* AH */
	case 60:  /* destination options */
	case 135: /* mobility */
	case 139: /* HIP */
	case 140: /* shim6 */
		return 1;
	default:
		return 0;
	}
}

#endif /* KP_ABI_COUNTERS_H */
