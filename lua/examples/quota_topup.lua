-- quota_topup.lua - one automatic top-up per kite and period.
--
-- When a kite spends its quota, on_quota_exhausted grants 10 % more once;
-- the second time in the same period the kite is disabled (alone: its
-- tunnel and the other kites stay up) until the next period.

frontend { addresses = { "127.0.0.1" }, tunnel_ports = { 4500 } }
port_pool { address = "127.0.0.1", first = 20000, last = 20099 }
account { name = "metered", quota_bytes = 10 * 1024 * 1024, quota_period_s = 3600 }
kite { name = "iot.example", secret = "iot-collector-secret-01", account = "metered" }
limits { lease_bytes = 256 * 1024 }

local topped = {}

function on_quota_exhausted(ev)
  if topped[ev.kite] then
    print("kite " .. ev.kite .. " disabled until the next period")
    return nil
  end
  topped[ev.kite] = true
  return { extra_bytes = ev.quota_bytes // 10 }
end

function on_tick(s)
  -- A new hour: forget the top-ups (quota periods are hourly here).
  if s.now % 3600 < 2 then topped = {} end
end
