-- wrk workloads for the remote-help API (this module, or any gateway that
-- speaks the same REST shape).
--
--   wrk -t2 -c64 -d10s -s bench/wrk/remote_help.lua http://HOST:PORT \
--       -- WORKLOAD [NKEYS] [RUNID] [PREFIX] [TOKEN]
--
-- WORKLOAD  get    GET PREFIX/RemoteHelpSessionRetrieveResponse/bench-k<i>
--           patch  PATCH of the same keys (two bodies per key, alternated)
--           post   POST with a unique sessionKey, a 561-byte body like the
--                  reference page's example
--           mixed  80 % get, 15 % patch, 5 % post
--           list   GET PREFIX/RemoteHelpSessionRetrieveResponse?$top=100
--           listfilter  the same page with a $filter every object
--                  matches (startswith() and ne null: each evaluated)
--           listrare    a $filter one object in NKEYS matches: each page
--                  examines its bound, 1000 objects
--           listselect  the same page with $select of two properties
--           load   POST bench-k1..bench-kNKEYS (thread t takes every t-th
--                  key), sweeping again until the run ends; fills a server
--                  for the others (set WRK_THREADS to wrk's -t)
-- NKEYS     keys bench-k1..bench-kNKEYS that get/patch/mixed pick from
--           uniformly (default 10000); "load" creates them
-- RUNID     tag in the keys POSTs create, unique per run (default: time)
-- PREFIX    path before the entity set (default /beta/)
-- TOKEN     bearer token sent (default bench-token)
--
-- Requests are prebuilt where they can be (up to 50,000 keys: above that,
-- or with WRK_LAZY=1 in the environment, get and patch requests are built
-- as they are sent).  wrk calls init() of thread 2 after thread 1 has
-- started sending, but starts its clock after the last init(): an init()
-- that takes seconds (a million keys) counts thread 1's requests of
-- those seconds in a shorter run, and reports a rate above the truth.
-- The varying part of a POST
-- body is its last bytes: wrk's LuaJIT hashes long strings by sampling
-- them, and strings that differ only in the middle collide (a known wrk
-- pitfall that halves throughput at random).  done() prints one line
-- "RESULT rps=... requests=... non2xx=... sockerr=... p50us=... p99us=...".

local SET = "RemoteHelpSessionRetrieveResponse"
local PAD = 123

local threads, nthreads = {}, 0
local tokens, ntokens, next_token = nil, 0, 0

function setup(thread)
    nthreads = nthreads + 1
    thread:set("tid", nthreads)
    thread:set("nthreads_total", 0)
    threads[nthreads] = thread
end

local fmt, random = string.format, math.random
local workload, nkeys, runid, prefix, token, host
local get_req, patch_req, list_req, list_reqs
local post_head, post_mid
local counter, next_load = 0, 0
local stride = 2
local lazy, key_path, get_tail, patch_head

-- everything but the key, so that a body is as long as the page's example
-- (its sessionExpirationDateTime is in 2099, not 2016: a server that lets
-- objects expire by it keeps them; WRK_EXPIRES in the environment gives
-- another, of the same length for the same body size)
local BODY_PROPS =
    '"acsHelperUserToken":"Acs Helper User Token value",'
    .. '"acsHelperUserId":"Acs Helper User Id value",'
    .. '"acsSharerUserId":"Acs Sharer User Id value",'
    .. '"acsGroupId":"Acs Group Id value",'
    .. '"sessionType":"takeFullControl",'
    .. '"deviceName":"Device Name value ' .. string.rep("x", PAD) .. '",'
    .. '"pubSubGroupId":"Pub Sub Group Id value",'
    .. '"pubSubHelperAccessUri":"Pub Sub Helper Access Uri value",'
    .. '"sessionExpirationDateTime":"'
    .. (os.getenv("WRK_EXPIRES") or "2099-12-31T23:59:57.5564522-08:00")
    .. '",'

local PATCH_FMT = '{"sessionExpirationDateTime":"2100-01-01T00:00:00.1234567-08:00",'
    .. '"acsHelperUserToken":"tok-%s-%07d"}'

-- GET of bench-k<i>; PATCH of it with one of two bodies (v: 0 or 1)
local function get_request(i)
    return "GET " .. key_path .. i .. get_tail
end

local function patch_request(i, v)
    local body = fmt(PATCH_FMT, v == 0 and "a" or "b", i)
    return "PATCH " .. key_path .. i .. patch_head .. #body .. "\r\n\r\n" .. body
end

function init(args)
    workload = args[1] or "get"
    nkeys    = tonumber(args[2] or "") or 10000
    runid    = args[3] or tostring(os.time())
    prefix   = args[4] or "/beta/"
    token    = args[5] or "bench-token"
    host     = wrk.host .. ":" .. tostring(wrk.port)
    stride   = tonumber(os.getenv("WRK_THREADS") or "") or 2
    math.randomseed((tid or 1) * 7919 + os.time())

    local base = prefix .. SET
    local hdrs = "Host: " .. host .. "\r\nAuthorization: Bearer " .. token
                 .. "\r\nContent-Type: application/json\r\n"

    lazy = os.getenv("WRK_LAZY") == "1" or nkeys > 50000
    key_path = base .. "/bench-k"
    get_tail = " HTTP/1.1\r\nHost: " .. host .. "\r\nAuthorization: Bearer "
               .. token .. "\r\n\r\n"
    patch_head = " HTTP/1.1\r\n" .. hdrs .. "Content-Length: "

    if not lazy and (workload == "get" or workload == "patch"
                     or workload == "mixed")
    then
        get_req, patch_req = {}, {}
        for i = 1, nkeys do
            get_req[i] = get_request(i)
            for v = 0, 1 do
                patch_req[2 * i - v] = patch_request(i, v)
            end
        end
    end

    local tf = os.getenv("WRK_TOKENS")
    if tf then
        tokens = {}
        for line in io.lines(tf) do
            ntokens = ntokens + 1
            tokens[ntokens] = line
        end
        next_token = ((tid or 1) * 7919) % ntokens
    end

    list_reqs = {}
    for name, q in pairs({
        list = "",
        listfilter = "&$filter=startswith(sessionKey,%27bench-k%27)"
                     .. "%20and%20deviceName%20ne%20null",
        listrare = "&$filter=sessionKey%20eq%20%27bench-k7%27",
        listselect = "&$select=sessionKey,deviceName" }) do
        list_reqs[name] = "GET " .. base .. "?$top=100" .. q
                          .. " HTTP/1.1\r\nHost: " .. host
                          .. "\r\nAuthorization: Bearer " .. token
                          .. "\r\n\r\n"
    end
    list_req = list_reqs[workload] or list_reqs.list

    post_head = "POST " .. base .. " HTTP/1.1\r\n" .. hdrs .. "Content-Length: "
    -- no @odata.type: the Lua peer expects another name for this type
    -- than the spec; deviceName is padded so that the body stays as long
    -- as the reference page's example (561 bytes with a 17-byte key)
    post_mid = '{' .. BODY_PROPS .. '"sessionKey":"'
    next_load = tid or 1
end

local function post_key(key)
    local body = post_mid .. key .. '"}'
    if tokens then
        -- the same request with the next token of WRK_TOKENS
        next_token = next_token % ntokens + 1
        return (post_head:gsub("Bearer [^\r]*", "Bearer "
                                .. tokens[next_token]))
               .. #body .. "\r\n\r\n" .. body
    end
    return post_head .. #body .. "\r\n\r\n" .. body
end

local function post()
    counter = counter + 1
    return post_key("p" .. runid .. "-" .. tostring(tid or 1) .. "-" .. counter)
end

-- WRK_TOKENS=FILE: GETs (and the POSTs of load) carry the tokens of
-- FILE (one per line), each thread going round them in turn (a list
-- longer than a server's cache of verified tokens makes every GET a
-- verification)

local function get_token_request(i)
    next_token = next_token % ntokens + 1
    return "GET " .. key_path .. i .. " HTTP/1.1\r\nHost: " .. host
           .. "\r\nAuthorization: Bearer " .. tokens[next_token] .. "\r\n\r\n"
end

local function get()
    if tokens then return get_token_request(random(nkeys)) end
    if lazy then return get_request(random(nkeys)) end
    return get_req[random(nkeys)]
end

local function patch()
    if lazy then return patch_request(random(nkeys), random(2) - 1) end
    return patch_req[random(2 * nkeys)]
end
local function list() return list_req end

local function mixed()
    local r = random()
    if r < 0.80 then return get() end
    if r < 0.95 then return patch() end
    return post()
end

-- sweeps the keys again and again: a request wrk drops (it builds one
-- per thread at start and never sends it) is sent on the next sweep, and
-- keys that exist already answer 409
local function load()
    local i = next_load
    next_load = next_load + stride
    if next_load > nkeys then
        next_load = (tid or 1)
    end
    return post_key("bench-k" .. i)
end

function request()
    local gen = ({ get = get, patch = patch, post = post, mixed = mixed,
                   list = list, listfilter = list, listrare = list,
                   listselect = list, load = load })[workload]
    if not gen then error("unknown workload " .. tostring(workload)) end
    request = gen
    return request()
end

function done(summary, latency, requests)
    local e = summary.errors
    io.write(fmt("RESULT rps=%.1f requests=%d non2xx=%d sockerr=%d p50us=%d p99us=%d maxus=%d\n",
        summary.requests / (summary.duration / 1e6), summary.requests, e.status,
        e.connect + e.read + e.write + e.timeout,
        latency:percentile(50), latency:percentile(99), latency.max))
end
