// counters.h - kite-connector's counters, declared once as an X-macro list.
//
// Each counter has a name (used in the stats file and the SIGUSR1 log line)
// and a one-line help text.  Counters are plain uint64_t: the connector is one
// thread.
#pragma once

#include <cstdint>
#include <string>

#define KC_COUNTERS(X)                                                                   \
  X(tunnel_rx_frames, "frames received on tunnel sockets")                               \
  X(tunnel_tx_frames, "frames sent on tunnel sockets")                                   \
  X(data_rx_packets, "client datagrams delivered to a local service")                    \
  X(data_rx_bytes, "client payload bytes delivered to a local service")                  \
  X(data_tx_packets, "service replies sent to the front-end")                            \
  X(data_tx_bytes, "service reply payload bytes sent to the front-end")                  \
  X(drop_wrong_source, "tunnel frames not from the session's front-end address/port")    \
  X(drop_wrong_session, "DATA frames naming another session id")                         \
  X(drop_bad_data, "malformed DATA frames (short, direction flag, family)")              \
  X(drop_unknown_kite, "DATA frames for a kite not accepted (or disabled) in the session") \
  X(drop_bad_control, "control frames that do not parse")                                \
  X(drop_bad_mac, "control frames failing MAC verification")                             \
  X(drop_replay, "control frames rejected by the replay window")                         \
  X(drop_bad_server_proof, "REGISTER_RESULTs with a wrong server proof")                 \
  X(drop_flow_table_full, "client datagrams dropped because max_flows was reached")      \
  X(drop_service_send, "client datagrams the local service socket refused")              \
  X(drop_tunnel_send, "frames the tunnel socket refused")                                \
  X(reply_too_big, "service replies larger than the tunnel MTU allows (dropped)")        \
  X(reply_cookie_expired, "service replies dropped: client silent for over 2N")          \
  X(flows_created, "client flows opened")                                                \
  X(flows_expired, "client flows closed when idle")                                      \
  X(registrations, "sessions established")                                               \
  X(registration_failures, "registration attempts that failed (per front-end port)")     \
  X(kites_accepted, "kite results ACCEPTED")                                             \
  X(kites_refused, "kite results other than ACCEPTED/REMOVED")                           \
  X(sessions_lost, "sessions ended (dead peer, CLOSE, lame duck)")                       \
  X(heartbeats_sent, "HEARTBEATs sent")                                                  \
  X(heartbeat_acks, "HEARTBEAT_ACKs received")                                           \
  X(resumes_sent, "RESUMEs sent")                                                        \
  X(notices, "NOTICEs received")                                                         \
  X(errors_received, "ERROR frames received")

namespace kp::connector {

struct Counters {
#define KC_X_FIELD(name, help) uint64_t name = 0;
  KC_COUNTERS(KC_X_FIELD)
#undef KC_X_FIELD
};

// "name value\n" per counter (the stats file format).
std::string FormatCounters(const Counters& c);
// One line "name=value ..." of the nonzero counters, for the log.
std::string FormatCountersLine(const Counters& c);

}  // namespace kp::connector
