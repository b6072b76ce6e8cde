using AiProxy.Redis.Connection;

namespace AiProxy.Redis.RateLimiting;

/// <summary>
/// The Lua scripts of the shared limiter. Each runs atomically on the server, so a check and its charge can never
/// interleave with another instance's: a limit of 30 admits exactly 30 across every instance.
/// </summary>
/// <remarks>
/// Layout, per caller and per provider with limits (see <see cref="RedisKeys.LimitKeys"/>):
/// <list type="bullet">
/// <item><c>…:windows</c>: a hash of both one-minute windows, each opened by the first request (as in memory) and over
/// once its start plus a minute has passed: <c>rs</c> and <c>r</c> the request window's start (server ms) and count,
/// <c>ts</c> and <c>u</c> the token window's start (its id for settling) and tokens used. Its TTL is the rest of the
/// window opened last, so it outlives every live window.</item>
/// <item><c>…:concurrent</c>: a sorted set of lease ids scored by expiry (server ms). Expired members are removed before
/// a count that would refuse, so a dead instance's slots free themselves; live leases are renewed.</item>
/// </list>
/// Times come from the server's <c>TIME</c>, read once per call, so the instances' clocks never matter. Limits of -1
/// mean none, and a limit that is not set costs no command.
/// </remarks>
internal static class RateLimitScripts
{
    private const string Common = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local window = tonumber(ARGV[1])

        -- The live windows of a target: requests used, requests reset ms, tokens used, token window start (-1 none).
        local function read(key, rpm, tpm)
          local r, rr, u, ts = 0, 0, 0, -1
          if rpm < 0 and tpm < 0 then return r, rr, u, ts end
          local v = redis.call('HMGET', key, 'rs', 'r', 'ts', 'u')
          if rpm >= 0 and v[1] then
            local s = tonumber(v[1])
            if s + window > now then
              r = tonumber(v[2] or '0')
              rr = s + window - now
            end
          end
          if tpm >= 0 and v[3] then
            local s = tonumber(v[3])
            if s + window > now then
              ts = s
              u = tonumber(v[4] or '0')
            end
          end
          return r, rr, u, ts
        end

        -- Charges what read returned with one HSET (and a PEXPIRE when a window opens); returns the new values.
        local function charge(key, requests, tokens, r, rr, u, ts)
          local args, opened = { key }, false
          if requests then
            if rr <= 0 then
              r, rr, opened = 1, window, true
              args[#args + 1] = 'rs'; args[#args + 1] = now
            else
              r = r + 1
            end
            args[#args + 1] = 'r'; args[#args + 1] = r
          end
          if tokens then
            if ts < 0 then
              u, ts, opened = tokens, now, true
              args[#args + 1] = 'ts'; args[#args + 1] = now
            else
              u = u + tokens
            end
            args[#args + 1] = 'u'; args[#args + 1] = u
          end
          if #args > 1 then redis.call('HSET', unpack(args)) end
          if opened then redis.call('PEXPIRE', key, window) end
          return r, rr, u, ts
        end

        local function take_slot(key, lease, ttl)
          redis.call('ZADD', key, now + ttl, lease)
          redis.call('PEXPIRE', key, ttl)
        end
        """;

    /// <summary>
    /// Checks and charges the caller (one request, the estimated tokens, a concurrent slot) and checks every candidate
    /// provider's capacity without charging it. Refuses with the first full limit, as the in-memory limiter does.
    /// KEYS: caller windows, concurrent; then windows, concurrent per provider.
    /// ARGV: window ms, lease ttl ms, lease id, estimate, caller rpm, tpm, max concurrent; then rpm, tpm, max per provider.
    /// Returns: reason (0 admitted, 1 requests, 2 tokens, 3 concurrency, 4 provider capacity), retry-after ms,
    /// requests used, requests reset ms, tokens used, tokens reset ms, token window start (-1 none), provider availability ('1'/'0' each).
    /// </summary>
    public static readonly RedisScript Acquire = new("acquire", Common + """

        local ttl = tonumber(ARGV[2])
        local lease = ARGV[3]
        local estimate = tonumber(ARGV[4])

        local function full(key, max)
          if redis.call('ZCARD', key) < max then return false end
          redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
          return redis.call('ZCARD', key) >= max
        end

        local function check(base, rpm, tpm, max)
          local r, rr, u, ts = read(KEYS[base], rpm, tpm)
          if rpm >= 0 and r + 1 > rpm then return 1, rr, r, rr, u, ts end
          if tpm >= 0 and u + estimate > tpm then
            local reset = 0
            if ts >= 0 then reset = ts + window - now end
            if reset <= 0 then reset = window end
            return 2, reset, r, rr, u, ts
          end
          if max >= 0 and full(KEYS[base + 1], max) then return 3, 1000, r, rr, u, ts end
          return 0, 0, r, rr, u, ts
        end

        local rpm, tpm, max = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
        local function describe(reason, wait, r, rr, u, ts, start, available)
          local treset = 0
          if tpm >= 0 and ts >= 0 then treset = ts + window - now end
          if rpm < 0 then rr = 0 end
          return { reason, wait, r, rr, u, treset, start, available }
        end

        local reason, wait, r, rr, u, ts = check(1, rpm, tpm, max)
        if reason ~= 0 then return describe(reason, wait, r, rr, u, ts, -1, '') end

        local providers = (#KEYS - 2) / 2
        local available, any, shortest = '', false, -1
        for i = 0, providers - 1 do
          local a = 8 + i * 3
          local prpm, ptpm, pmax = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
          local pr, w = 0, 0
          if prpm >= 0 or ptpm >= 0 or pmax >= 0 then pr, w = check(3 + i * 2, prpm, ptpm, pmax) end
          if pr == 0 then
            available = available .. '1'
            any = true
          else
            available = available .. '0'
            if shortest < 0 or w < shortest then shortest = w end
          end
        end
        if providers > 0 and not any then return describe(4, shortest, r, rr, u, ts, -1, available) end

        local tokens = false
        if tpm >= 0 then tokens = estimate end
        r, rr, u, ts = charge(KEYS[1], rpm >= 0, tokens, r, rr, u, ts)
        if max >= 0 then take_slot(KEYS[2], lease, ttl) end
        return describe(0, 0, r, rr, u, ts, ts, available)
        """);

    /// <summary>
    /// Charges the provider selection chose: one request, the estimated tokens, a concurrent slot; even past capacity, since
    /// the upstream will see the request anyway. KEYS: windows, concurrent. ARGV: window ms, lease ttl ms, lease id,
    /// estimate, has rpm, has tpm, has max (1/0). Returns the token window start, or -1.
    /// </summary>
    public static readonly RedisScript ChargeProvider = new("charge_provider", Common + """

        local ttl, lease, estimate = tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
        local requests, tokens = ARGV[5] == '1', false
        if ARGV[6] == '1' then tokens = estimate end
        local start = -1
        if requests or tokens then
          local r, rr, u, ts = read(KEYS[1], requests and 0 or -1, tokens and 0 or -1)
          r, rr, u, ts = charge(KEYS[1], requests, tokens, r, rr, u, ts)
          if tokens then start = ts end
        end
        if ARGV[7] == '1' then take_slot(KEYS[2], lease, ttl) end
        return start
        """);

    /// <summary>
    /// Settles and releases any number of leases in one call, after their responses (see <see cref="RedisProxyRateLimiter"/>'s
    /// batching). A token correction applies to the window it was reserved in; once that window has ended a refund no
    /// longer matters, while an overrun is charged to the current one.
    /// KEYS: one per operation. ARGV: window ms, then three per operation: its kind, then two arguments:
    /// <c>a</c> (adjust tokens: window start, delta), <c>r</c> (charge one request), <c>t</c> (charge tokens: amount),
    /// <c>z</c> (release the slot: lease id). Returns the number of operations.
    /// </summary>
    public static readonly RedisScript Finish = new("finish", Common + """

        local function adjust(key, start, delta)
          local v = redis.call('HMGET', key, 'ts', 'u')
          local current = tonumber(v[1] or '-1')
          if current == start and current + window > now then
            local used = tonumber(v[2] or '0') + delta
            if used < 0 then used = 0 end
            redis.call('HSET', key, 'u', used)
          elseif delta > 0 then
            local r, rr, u, ts = read(key, -1, 0)
            charge(key, false, delta, r, rr, u, ts)
          end
        end

        for i = 1, #KEYS do
          local a = 2 + (i - 1) * 3
          local kind, key = ARGV[a], KEYS[i]
          if kind == 'z' then
            redis.call('ZREM', key, ARGV[a + 1])
          elseif kind == 'a' then
            adjust(key, tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]))
          elseif kind == 'r' then
            local r, rr, u, ts = read(key, 0, -1)
            charge(key, true, false, r, rr, u, ts)
          elseif kind == 't' then
            local r, rr, u, ts = read(key, -1, 0)
            charge(key, false, tonumber(ARGV[a + 1]), r, rr, u, ts)
          end
        end
        return #KEYS
        """);

    /// <summary>
    /// Extends the slots of leases still in flight. KEYS: concurrent sets. ARGV: lease ttl ms, then the lease id for each key.
    /// A slot that already expired is not brought back (<c>XX</c>).
    /// </summary>
    public static readonly RedisScript Renew = new("renew", """

        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local ttl = tonumber(ARGV[1])
        for i = 1, #KEYS do
          if redis.call('ZADD', KEYS[i], 'XX', 'CH', now + ttl, ARGV[i + 1]) >= 0 then
            redis.call('PEXPIRE', KEYS[i], ttl)
          end
        end
        return #KEYS
        """);

    public static IReadOnlyList<RedisScript> All { get; } = [Acquire, ChargeProvider, Finish, Renew];
}
