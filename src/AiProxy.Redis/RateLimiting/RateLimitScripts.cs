using AiProxy.Redis.Connection;

namespace AiProxy.Redis.RateLimiting;

/// <summary>
/// The Lua scripts of the shared limiter. Each runs atomically on the server, so a check and its charge can never
/// interleave with another instance's: a limit of 30 admits exactly 30 across every instance.
/// </summary>
/// <remarks>
/// Layout, per caller and per provider with limits (see <see cref="RedisKeys.LimitKeys"/>):
/// <list type="bullet">
/// <item><c>…:rpm</c>: a counter; its TTL is the rest of the one-minute window, which opens with the first request (as in memory).</item>
/// <item><c>…:tpm</c>: a hash, <c>s</c> the window's start (server ms, the window's id for settling) and <c>u</c> the tokens
/// used; its TTL is the rest of the window.</item>
/// <item><c>…:concurrent</c>: a sorted set of lease ids scored by expiry (server ms). Expired members are removed before
/// counting, so a dead instance's slots free themselves; live leases are renewed.</item>
/// </list>
/// Times come from the server's <c>TIME</c>, so the instances' clocks never matter. Limits of -1 mean none.
/// </remarks>
internal static class RateLimitScripts
{
    private const string Common = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

        local function reset_of(key)
          local pttl = redis.call('PTTL', key)
          if pttl < 0 then return 0 end
          return pttl
        end

        local function charge_requests(key, window)
          local used = redis.call('INCR', key)
          if used == 1 or redis.call('PTTL', key) < 0 then redis.call('PEXPIRE', key, window) end
          return used
        end

        local function charge_tokens(key, amount, window)
          local start = redis.call('HGET', key, 's')
          if not start then
            redis.call('HSET', key, 's', now, 'u', amount)
            redis.call('PEXPIRE', key, window)
            return now
          end
          redis.call('HINCRBY', key, 'u', amount)
          return tonumber(start)
        end

        local function take_slot(key, lease, ttl)
          redis.call('ZADD', key, now + ttl, lease)
          redis.call('PEXPIRE', key, ttl)
        end
        """;

    /// <summary>
    /// Checks and charges the caller (one request, the estimated tokens, a concurrent slot) and checks every candidate
    /// provider's capacity without charging it. Refuses with the first full limit, as the in-memory limiter does.
    /// KEYS: caller rpm, tpm, concurrent; then rpm, tpm, concurrent per provider.
    /// ARGV: window ms, lease ttl ms, lease id, estimate, caller rpm, tpm, max concurrent; then rpm, tpm, max per provider.
    /// Returns: reason (0 admitted, 1 requests, 2 tokens, 3 concurrency, 4 provider capacity), retry-after ms,
    /// requests used, requests reset ms, tokens used, tokens reset ms, token window start (-1 none), provider availability ('1'/'0' each).
    /// </summary>
    public static readonly RedisScript Acquire = new("acquire", Common + """

        local window = tonumber(ARGV[1])
        local ttl = tonumber(ARGV[2])
        local lease = ARGV[3]
        local estimate = tonumber(ARGV[4])

        local function check(base, rpm, tpm, max)
          if rpm >= 0 and tonumber(redis.call('GET', KEYS[base]) or '0') + 1 > rpm then
            return 1, reset_of(KEYS[base])
          end
          if tpm >= 0 and tonumber(redis.call('HGET', KEYS[base + 1], 'u') or '0') + estimate > tpm then
            local reset = reset_of(KEYS[base + 1])
            if reset == 0 then reset = window end
            return 2, reset
          end
          if max >= 0 then
            redis.call('ZREMRANGEBYSCORE', KEYS[base + 2], '-inf', now)
            if redis.call('ZCARD', KEYS[base + 2]) >= max then return 3, 1000 end
          end
          return 0, 0
        end

        local rpm, tpm, max = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
        local function describe(reason, wait, start, available)
          local requests, tokens = 0, 0
          if rpm >= 0 then requests = tonumber(redis.call('GET', KEYS[1]) or '0') end
          if tpm >= 0 then tokens = tonumber(redis.call('HGET', KEYS[2], 'u') or '0') end
          return { reason, wait, requests, rpm >= 0 and reset_of(KEYS[1]) or 0, tokens, tpm >= 0 and reset_of(KEYS[2]) or 0, start, available }
        end

        local reason, wait = check(1, rpm, tpm, max)
        if reason ~= 0 then return describe(reason, wait, -1, '') end

        local providers = (#KEYS - 3) / 3
        local available, any, shortest = '', false, -1
        for i = 0, providers - 1 do
          local a = 8 + i * 3
          local prpm, ptpm, pmax = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
          local r, w = 0, 0
          if prpm >= 0 or ptpm >= 0 or pmax >= 0 then r, w = check(4 + i * 3, prpm, ptpm, pmax) end
          if r == 0 then
            available = available .. '1'
            any = true
          else
            available = available .. '0'
            if shortest < 0 or w < shortest then shortest = w end
          end
        end
        if providers > 0 and not any then return describe(4, shortest, -1, available) end

        if rpm >= 0 then charge_requests(KEYS[1], window) end
        local start = -1
        if tpm >= 0 then start = charge_tokens(KEYS[2], estimate, window) end
        if max >= 0 then take_slot(KEYS[3], lease, ttl) end
        return describe(0, 0, start, available)
        """);

    /// <summary>
    /// Charges the provider selection chose: one request, the estimated tokens, a concurrent slot; even past capacity, since
    /// the upstream will see the request anyway. KEYS: rpm, tpm, concurrent. ARGV: window ms, lease ttl ms, lease id,
    /// estimate, has rpm, has tpm, has max (1/0). Returns the token window start, or -1.
    /// </summary>
    public static readonly RedisScript ChargeProvider = new("charge_provider", Common + """

        local window, ttl, lease, estimate = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
        if ARGV[5] == '1' then charge_requests(KEYS[1], window) end
        local start = -1
        if ARGV[6] == '1' then start = charge_tokens(KEYS[2], estimate, window) end
        if ARGV[7] == '1' then take_slot(KEYS[3], lease, ttl) end
        return start
        """);

    /// <summary>
    /// Settles and releases a lease in one call, after the response. A token correction applies to the window it was
    /// reserved in; once that window has ended a refund no longer matters, while an overrun is charged to the current one.
    /// KEYS: caller tpm, caller concurrent, selected tpm, selected concurrent, answering provider rpm, answering provider tpm.
    /// ARGV: window ms, lease id, caller window start (-1 none), caller delta, selected window start (-1 none), selected delta,
    /// answering provider requests (1/0), answering provider tokens (-1 none), release caller (1/0), release selected (1/0).
    /// </summary>
    public static readonly RedisScript Finish = new("finish", Common + """

        local window, lease = tonumber(ARGV[1]), ARGV[2]
        local function adjust(key, start, delta)
          if start < 0 or delta == 0 then return end
          local current = redis.call('HGET', key, 's')
          if current and tonumber(current) == start then
            local used = tonumber(redis.call('HGET', key, 'u') or '0') + delta
            if used < 0 then used = 0 end
            redis.call('HSET', key, 'u', used)
          elseif delta > 0 then
            charge_tokens(key, delta, window)
          end
        end

        adjust(KEYS[1], tonumber(ARGV[3]), tonumber(ARGV[4]))
        adjust(KEYS[3], tonumber(ARGV[5]), tonumber(ARGV[6]))
        if ARGV[7] == '1' then charge_requests(KEYS[5], window) end
        local answered = tonumber(ARGV[8])
        if answered > 0 then charge_tokens(KEYS[6], answered, window) end
        if ARGV[9] == '1' then redis.call('ZREM', KEYS[2], lease) end
        if ARGV[10] == '1' then redis.call('ZREM', KEYS[4], lease) end
        return 1
        """);

    /// <summary>
    /// Extends the slots of leases still in flight. KEYS: concurrent sets. ARGV: lease ttl ms, then the lease id for each key.
    /// A slot that already expired is not brought back (<c>XX</c>).
    /// </summary>
    public static readonly RedisScript Renew = new("renew", Common + """

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
