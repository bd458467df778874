-- SPDX-License-Identifier: MIT
-- wrk script for the public page: random addresses, half listed (20.0.0.0 upwards, as
-- master_bench_fill puts them), half not. Arguments: html|json, LISTINGS, DELAY_MS (per request
-- and connection: c connections at DELAY_MS ms give about c * 1000 / DELAY_MS requests/s).
local mode, listings, delay_ms = "json", 100000, 0
function init(args)
  mode = args[1] or "json"
  listings = tonumber(args[2] or "100000")
  delay_ms = tonumber(args[3] or "0")
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
end
function request()
  local n
  if math.random() < 0.5 then
    n = (20 * 16777216) + math.random(0, listings - 1)
  else
    n = (30 * 16777216) + math.random(0, 4194303)
  end
  local ip = string.format("%d.%d.%d.%d", math.floor(n / 16777216), math.floor(n / 65536) % 256,
                           math.floor(n / 256) % 256, n % 256)
  if mode == "html" then
    return wrk.format("GET", "/?ip=" .. ip)
  end
  return wrk.format("GET", "/api/lookup/" .. ip)
end
function delay()
  return delay_ms
end
