-- wrk script: POST one JSON body over and over, each request with its own bearer token when a
-- token file is given (the service refuses a replayed JWT `jti`), and print the latency
-- percentiles as one JSON line when done.
-- usage: wrk ... -s post.lua <url> -- <path> <body file> [<token file>]

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local function read(file)
  local handle = assert(io.open(file, "rb"))
  local content = handle:read("*a")
  handle:close()
  return content
end

function init(args)
  path = args[1]
  body = read(args[2])
  tokens = {}
  if args[3] then
    local nthreads = tonumber(args[4] or "1")
    local index = 0
    for line in io.lines(args[3]) do
      if index % nthreads == tid then
        table.insert(tokens, line)
      end
      index = index + 1
    end
  end
  sent = 0
end

function request()
  sent = sent + 1
  local headers = { ["Content-Type"] = "application/json", ["Accept"] = "application/json" }
  if #tokens > 0 then
    headers["Authorization"] = "Bearer " .. tokens[((sent - 1) % #tokens) + 1]
  end
  return wrk.format("POST", path, headers, body)
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "connect_errors": %d, "read_errors": %d, ' ..
    '"write_errors": %d, "status_errors": %d, "timeouts": %d, "p50_us": %d, "p95_us": %d, ' ..
    '"p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, errors.connect, errors.read, errors.write,
    errors.status, errors.timeout, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max, latency.mean))
end
