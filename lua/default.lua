-- default.lua - kiteplane's built-in configuration: a loopback demo.
--
-- kiteplane-controlplane runs this when started without --config.  It serves
-- the front-end on 127.0.0.1 with two tunnel ports, publishes kites on
-- 127.0.0.1 ports 20000-20099 and declares one demo kite.  Copy it as a
-- starting point; docs/policy.md describes every call and hook.

frontend {
  addresses = { "127.0.0.1" },
  tunnel_ports = { 4500, 4501 },
  mtu = 1400,
}

port_pool { address = "127.0.0.1", first = 20000, last = 20099 }

account { name = "demo", quota_bytes = 1024 * 1024 * 1024, quota_period_s = 86400 }

kite {
  name = "echo.demo.kite",
  secret = "demo-secret-change-me",
  account = "demo",
  port = 20000,
  rate_pps = 100000,
  rate_kbps = 100000,
  burst_ms = 100,
}

store { path = "/tmp/kiteplane-demo.db" }
dataplane { socket = "/run/kiteplane/ctl.sock" }
management { socket = "/run/kiteplane/mgmt.sock", mode = "0660" }
metrics { listen = "127.0.0.1:9477", max_kite_series = 100 }
timers { tick_ms = 1000, heartbeat_s = 10, dead_after_s = 35, cookie_rotate_s = 3600 }
limits { register_rate_per_s = 5, register_burst = 10, lease_bytes = 1024 * 1024 }

-- Admission: accept the declared kites, refuse everything else.
function on_register(req)
  if not req.known then
    return { accept = false, reason = "unknown kite" }
  end
  return nil -- keep the declared settings
end

function on_quota_exhausted(ev)
  print("kite " .. ev.kite .. " used its quota of " .. ev.quota_bytes .. " bytes")
  return nil -- stay disabled until the next period
end
