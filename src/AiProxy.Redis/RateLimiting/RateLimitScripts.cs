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
/// mean none, and a limit that is not set costs no command. Within one call each hash is read once and written once and
/// each set's size counted once, however many of the call's operations touch it.
/// </remarks>
internal static class RateLimitScripts
{
    private const string Common = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local window = tonumber(ARGV[1])

        -- Every key is read at most once per call and written at most once, at its end (save): a call carrying many
        -- requests of one caller costs that caller one HMGET and one HSET, not one of each per request.
        local windows, cards, touched = {}, {}, {}

        local function state(key)
          local w = windows[key]
          if w == nil then
            local v = redis.call('HMGET', key, 'rs', 'r', 'ts', 'u')
            w = { rs = tonumber(v[1] or '-1'), r = tonumber(v[2] or '0'), ts = tonumber(v[3] or '-1'), u = tonumber(v[4] or '0'),
                  dirty = false, opened = false }
            windows[key] = w
          end
          return w
        end

        -- The live windows of a target: requests used, requests reset ms, tokens used, token window start (-1 none).
        local function read(key, rpm, tpm)
          local r, rr, u, ts = 0, 0, 0, -1
          if rpm < 0 and tpm < 0 then return r, rr, u, ts end
          local w = state(key)
          if rpm >= 0 and w.rs >= 0 and w.rs + window > now then
            r = w.r
            rr = w.rs + window - now
          end
          if tpm >= 0 and w.ts >= 0 and w.ts + window > now then
            ts = w.ts
            u = w.u
          end
          return r, rr, u, ts
        end

        -- Adds n to one window of w (its count in field c, its start in field s) whose count read returned as used; a
        -- window that is over opens anew now with n, as in memory. Returns the new count.
        local function add(w, c, s, over, used, n)
          if over then
            used = n
            w[s], w.opened = now, true
          else
            used = used + n
          end
          w[c], w.dirty = used, true
          return used
        end

        -- Charges what read returned; returns the new values.
        local function charge(key, requests, tokens, r, rr, u, ts)
          if not requests and not tokens then return r, rr, u, ts end
          local w = state(key)
          if requests then
            local n = requests
            if n == true then n = 1 end
            local over = rr <= 0
            r = add(w, 'r', 'rs', over, r, n)
            if over then rr = window end
          end
          if tokens then
            local over = ts < 0
            u = add(w, 'u', 'ts', over, u, tokens)
            if over then ts = now end
          end
          return r, rr, u, ts
        end

        -- Concurrent slots: the set's size is read once per call and kept up to date by this call's own changes.
        local function card(key)
          local c = cards[key]
          if c == nil then
            c = redis.call('ZCARD', key)
            cards[key] = c
          end
          return c
        end

        local function full(key, max)
          if card(key) < max then return false end
          cards[key] = cards[key] - redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
          return cards[key] >= max
        end

        local function take_slot(key, lease, ttl)
          local added = redis.call('ZADD', key, now + ttl, lease)
          if cards[key] ~= nil then cards[key] = cards[key] + added end
          touched[key] = ttl
        end

        local function release_slot(key, lease)
          local removed = redis.call('ZREM', key, lease)
          if cards[key] ~= nil then cards[key] = cards[key] - removed end
        end

        -- Writes what the call changed: one HSET per window hash (and a PEXPIRE, the rest of the window opened last, when
        -- one opened), one PEXPIRE per set a slot was taken in.
        local function save()
          for key, w in pairs(windows) do
            if w.dirty then
              local args = { key }
              if w.rs >= 0 then
                args[#args + 1] = 'rs'; args[#args + 1] = w.rs
                args[#args + 1] = 'r'; args[#args + 1] = w.r
              end
              if w.ts >= 0 then
                args[#args + 1] = 'ts'; args[#args + 1] = w.ts
                args[#args + 1] = 'u'; args[#args + 1] = w.u
              end
              if #args > 1 then redis.call('HSET', unpack(args)) end
              if w.opened then redis.call('PEXPIRE', key, window) end
            end
          end
          for key, ttl in pairs(touched) do
            redis.call('PEXPIRE', key, ttl)
          end
        end
        """;

    /// <summary>
    /// Runs a batch of operations in one call, in order, each exactly as if it ran alone (the script is atomic, so no other
    /// instance's call interleaves). The limiter sends whatever queued while its previous call was out (see
    /// <see cref="LimiterChannel"/>), so under load many requests share one round trip and one script run.
    /// ARGV: window ms, lease ttl ms, then the operations; KEYS are taken by the operations in order. Each operation starts
    /// with its kind:
    /// <list type="bullet">
    /// <item><c>q</c> acquire (KEYS: caller windows, concurrent, then windows, concurrent per candidate with a capacity;
    /// ARGV: lease id, estimate, caller rpm, tpm, max concurrent, the number of candidates with a capacity, 1 when another
    /// candidate has none (so room is never lacking), then rpm, tpm, max per candidate with a capacity): checks and charges
    /// the caller (one request, the estimated tokens, a concurrent slot) and checks those candidates' capacity without
    /// charging it, refusing with the first full limit as the in-memory limiter does. Answers one string,
    /// <c>reason,retry-after ms,requests used,requests reset ms,tokens used,tokens reset ms,token window start,availability</c>:
    /// reason 0 admitted, 1 requests, 2 tokens, 3 concurrency, 4 provider capacity; token window start -1 for none;
    /// availability '1'/'0' per candidate sent, empty when every one has room.</item>
    /// <item><c>p</c> charge the provider an attempt goes to (KEYS: windows, concurrent; ARGV: lease id, estimate, has rpm, has
    /// tpm, has max as 1/0): one request, the estimated tokens, a concurrent slot, even past capacity, since the upstream sees
    /// the request anyway. Answers its token window start, or -1.</item>
    /// <item><c>a</c> adjust tokens (KEYS: windows; ARGV: window start, delta): a correction applies to the window it was
    /// reserved in; once that window has ended a refund no longer matters, while an overrun is charged to the current one.</item>
    /// <item><c>r</c> charge one request (KEYS: windows; ARGV: two unused), <c>t</c> charge tokens (ARGV: amount, unused),
    /// <c>z</c> release a slot (KEYS: concurrent; ARGV: lease id, unused).</item>
    /// <item><c>b</c> a request's budgets (KEYS: the caller's budget hash, or an unused key, then each candidate provider's;
    /// ARGV: 1 when the caller has a budget, its amount, the cost to reserve, the hash's expiry (unix ms, -1 none), the
    /// number of providers, then amount and cost per provider; money in billionths of a dollar): reserves the cost when
    /// spent + reserved + cost &lt;= amount, checks each provider the same way without reserving. Answers
    /// <c>admitted,committed,availability</c>.</item>
    /// <item><c>l</c> take a slice for quota leasing (KEYS: windows; ARGV: rpm, tpm, estimate, most requests per slice):
    /// refused as an acquire's check refuses, otherwise charges up to an eighth of what is left (at least one request and
    /// the estimate, at most <c>most</c> of each). Answers <c>reason,retry-after ms,granted requests,request window start,
    /// request reset ms,requests used,granted tokens,token window start,token reset ms,tokens used</c>.</item>
    /// <item><c>g</c> give back unspent requests of a slice (KEYS: windows; ARGV: request window start, count): only to the
    /// window they were taken in, while it lasts.</item>
    /// <item><c>B</c> settle a budget (KEYS: its hash; ARGV: reserved, <c>actual:expiry ms</c>).</item>
    /// </list>
    /// Returns the answers of the <c>q</c>, <c>b</c>, <c>l</c> and <c>p</c> operations, in order.
    /// </summary>
    public static readonly RedisScript Run = new("limits", Common + """

        local ttl = tonumber(ARGV[2])

        local function check(windows_key, slots_key, rpm, tpm, max, estimate)
          local r, rr, u, ts = read(windows_key, rpm, tpm)
          if rpm >= 0 and r + 1 > rpm then return 1, rr, r, rr, u, ts end
          if tpm >= 0 and u + estimate > tpm then
            local reset = 0
            if ts >= 0 then reset = ts + window - now end
            if reset <= 0 then reset = window end
            return 2, reset, r, rr, u, ts
          end
          if max >= 0 and full(slots_key, max) then return 3, 1000, r, rr, u, ts end
          return 0, 0, r, rr, u, ts
        end

        local function acquire(k, a)
          local lease, estimate = ARGV[a], tonumber(ARGV[a + 1])
          local rpm, tpm, max = tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
          local providers, open = tonumber(ARGV[a + 5]), ARGV[a + 6] == '1'
          local function describe(reason, wait, r, rr, u, ts, start, available)
            local treset = 0
            if tpm >= 0 and ts >= 0 then treset = ts + window - now end
            if rpm < 0 then rr = 0 end
            if not string.find(available, '0', 1, true) then available = '' end
            return string.format('%d,%d,%d,%d,%d,%d,%d,', reason, wait, r, rr, u, treset, start) .. available
          end

          local reason, wait, r, rr, u, ts = check(KEYS[k], KEYS[k + 1], rpm, tpm, max, estimate)
          if reason ~= 0 then return describe(reason, wait, r, rr, u, ts, -1, '') end

          local available, any, shortest = '', false, -1
          for i = 0, providers - 1 do
            local pa, pk = a + 7 + i * 3, k + 2 + i * 2
            local prpm, ptpm, pmax = tonumber(ARGV[pa]), tonumber(ARGV[pa + 1]), tonumber(ARGV[pa + 2])
            local pr, w = 0, 0
            if prpm >= 0 or ptpm >= 0 or pmax >= 0 then pr, w = check(KEYS[pk], KEYS[pk + 1], prpm, ptpm, pmax, estimate) end
            if pr == 0 then
              available = available .. '1'
              any = true
            else
              available = available .. '0'
              if shortest < 0 or w < shortest then shortest = w end
            end
          end
          if providers > 0 and not any and not open then return describe(4, shortest, r, rr, u, ts, -1, available) end

          local tokens = false
          if tpm >= 0 then tokens = estimate end
          r, rr, u, ts = charge(KEYS[k], rpm >= 0, tokens, r, rr, u, ts)
          if max >= 0 then take_slot(KEYS[k + 1], lease, ttl) end
          return describe(0, 0, r, rr, u, ts, ts, available)
        end

        local function charge_provider(k, a)
          local lease, estimate = ARGV[a], tonumber(ARGV[a + 1])
          local requests, tokens = ARGV[a + 2] == '1', false
          if ARGV[a + 3] == '1' then tokens = estimate end
          local start = -1
          if requests or tokens then
            local r, rr, u, ts = read(KEYS[k], requests and 0 or -1, tokens and 0 or -1)
            r, rr, u, ts = charge(KEYS[k], requests, tokens, r, rr, u, ts)
            if tokens then start = ts end
          end
          if ARGV[a + 4] == '1' then take_slot(KEYS[k + 1], lease, ttl) end
          return start
        end

        -- A slice of a target's windows for quota leasing (QuotaSlices): refused as check refuses; otherwise charged up to an
        -- eighth of what is left, at least one request and the estimate, at most `most` requests and `most` estimates (so
        -- slices shrink to one request near the limit and never pass it).
        local function slice(key, a)
          local rpm, tpm, estimate, most = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
          local reason, wait, r, rr, u, ts = check(key, key, rpm, tpm, -1, estimate)
          local gr, gt = 0, 0
          if reason == 0 then
            local requests, tokens = false, false
            if rpm >= 0 then
              gr = math.max(1, math.min(most, math.floor((rpm - r) / 8)))
              requests = gr
            end
            if tpm >= 0 then
              gt = math.max(estimate, math.min(estimate * most, math.floor((tpm - u) / 8)))
              tokens = gt
            end
            r, rr, u, ts = charge(key, requests, tokens, r, rr, u, ts)
          end
          local rs, treset = -1, 0
          if rpm >= 0 and rr > 0 then rs = now + rr - window end
          if tpm >= 0 and ts >= 0 then treset = ts + window - now end
          return string.format('%d,%d,%d,%d,%d,%d,%d,%d,%d,%d', reason, wait, gr, rs, rr, r, gt, ts, treset, u)
        end

        -- Gives back requests of a slice not spent, to the window they were taken in (over: nothing to give back).
        local function give_back(key, start, n)
          local w = state(key)
          if w.rs == start and w.rs + window > now then
            local r = w.r - n
            if r < 0 then r = 0 end
            w.r, w.dirty = r, true
          end
        end

        local function adjust(key, start, delta)
          local w = state(key)
          if w.ts == start and w.ts + window > now then
            local used = w.u + delta
            if used < 0 then used = 0 end
            w.u, w.dirty = used, true
          elseif delta > 0 then
            local r, rr, u, ts = read(key, -1, 0)
            charge(key, false, delta, r, rr, u, ts)
          end
        end

        -- Budgets (hashes of s spent and r reserved, in billionths of a dollar): the caller's check-and-reserve, the
        -- candidate providers' checks. Answers 'admitted,committed,' then '1'/'0' per provider.
        local function budget(k, a)
          local has, amount, cost, expire = ARGV[a] == '1', tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
          local n = tonumber(ARGV[a + 4])
          local admitted, committed = 1, 0
          if has then
            local v = redis.call('HMGET', KEYS[k], 's', 'r')
            committed = tonumber(v[1] or '0') + tonumber(v[2] or '0')
            if committed + cost <= amount then
              if cost > 0 then redis.call('HINCRBY', KEYS[k], 'r', cost) end
              committed = committed + cost
              if expire >= 0 and cost > 0 then redis.call('PEXPIREAT', KEYS[k], expire) end
            else
              admitted = 0
            end
          end
          local available = ''
          for i = 0, n - 1 do
            local v = redis.call('HMGET', KEYS[k + 1 + i], 's', 'r')
            local used = tonumber(v[1] or '0') + tonumber(v[2] or '0')
            if used + tonumber(ARGV[a + 6 + i * 2]) <= tonumber(ARGV[a + 5 + i * 2]) then
              available = available .. '1'
            else
              available = available .. '0'
            end
          end
          return string.format('%d,%d,', admitted, committed) .. available
        end

        -- Settles a budget: the reservation goes, the real cost is spent. ARGV: reserved, 'actual:expire-at ms'.
        local function settle_budget(key, reserved, spec)
          local actual, expire = string.match(spec, '^(%d+):(%-?%d+)$')
          actual, expire = tonumber(actual), tonumber(expire)
          if reserved > 0 and redis.call('HINCRBY', key, 'r', -reserved) < 0 then redis.call('HSET', key, 'r', 0) end
          if actual > 0 then redis.call('HINCRBY', key, 's', actual) end
          if expire >= 0 and (reserved > 0 or actual > 0) then redis.call('PEXPIREAT', key, expire) end
        end

        local answers = {}
        local a, k = 3, 1
        while a <= #ARGV do
          local kind = ARGV[a]
          if kind == 'q' then
            local providers = tonumber(ARGV[a + 6])
            answers[#answers + 1] = acquire(k, a + 1)
            a, k = a + 8 + providers * 3, k + 2 + providers * 2
          elseif kind == 'b' then
            local providers = tonumber(ARGV[a + 5])
            answers[#answers + 1] = budget(k, a + 1)
            a, k = a + 6 + providers * 2, k + 1 + providers
          elseif kind == 'l' then
            answers[#answers + 1] = slice(KEYS[k], a + 1)
            a, k = a + 5, k + 1
          elseif kind == 'p' then
            answers[#answers + 1] = charge_provider(k, a + 1)
            a, k = a + 6, k + 2
          else
            local key = KEYS[k]
            if kind == 'z' then
              release_slot(key, ARGV[a + 1])
            elseif kind == 'a' then
              adjust(key, tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]))
            elseif kind == 'r' then
              local r, rr, u, ts = read(key, 0, -1)
              charge(key, true, false, r, rr, u, ts)
            elseif kind == 'g' then
              give_back(key, tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]))
            elseif kind == 'B' then
              settle_budget(key, tonumber(ARGV[a + 1]), ARGV[a + 2])
            elseif kind == 't' then
              local r, rr, u, ts = read(key, -1, 0)
              charge(key, false, tonumber(ARGV[a + 1]), r, rr, u, ts)
            else
              return redis.error_reply('unknown operation ' .. tostring(kind))
            end
            a, k = a + 3, k + 1
          end
        end
        save()
        return answers
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

    public static IReadOnlyList<RedisScript> All { get; } = [Run, Renew];
}
