using System.Collections.Concurrent;
using AiProxy.RateLimiting;
using AiProxy.Redis.Connection;
using StackExchange.Redis;

namespace AiProxy.Redis.RateLimiting;

/// <summary>
/// Quota leasing (<see cref="RedisOptions.LeaseQuota"/>): this instance's <see cref="QuotaSlice"/>s, one per caller and
/// provider with per-minute limits. A request admitted from slices already held makes no Redis call; a slice that runs
/// short is refilled by one <see cref="SliceCall"/> (through the <see cref="LimiterChannel"/>, so refills of many targets
/// share calls). Every slice was charged in Redis when taken, so no limit is ever passed across instances; what a slice
/// still holds after <see cref="RedisOptions.LeaseHold"/> without use, and everything on disposal, is given back.
/// Concurrency limits are not leased: a request under one goes the exact way (<see cref="Covers"/>). A slice is kept for
/// every caller and provider seen, for the life of the process (a few hundred bytes each, empty once given back).
/// </summary>
internal sealed class QuotaSlices : IDisposable, IAsyncDisposable
{
    private readonly RedisConnection _redis;
    private readonly LimiterChannel _channel;
    private readonly TimeProvider _time;
    private readonly TimeSpan _hold;
    private readonly int _most;
    private readonly ConcurrentDictionary<RedisKey, QuotaSlice> _slices = new();
    private readonly ITimer _timer;

    public QuotaSlices(RedisConnection redis, LimiterChannel channel, TimeProvider time)
    {
        _redis = redis;
        _channel = channel;
        _time = time;
        _hold = redis.Options.LeaseHold;
        _most = redis.Options.LeaseSliceMax;
        var every = _hold / 2 > TimeSpan.FromMilliseconds(10) ? _hold / 2 : TimeSpan.FromMilliseconds(10);
        _timer = time.CreateTimer(static state => ((QuotaSlices)state!).GiveBack(all: false), this, every, every);
    }

    /// <summary>Requests held in slices and not spent (tests).</summary>
    public long RequestsHeld => _slices.Values.Sum(static slice => slice.RequestsLeft);

    /// <summary>Whether leasing covers <paramref name="request"/>: not when it is under any concurrency limit.</summary>
    public static bool Covers(ProxyRateLimitRequest request)
    {
        if (request.Limits.MaxConcurrentRequests is not null)
        {
            return false;
        }

        var providers = request.Providers;
        for (var i = 0; i < providers.Count; i++)
        {
            if (providers[i].Limits.MaxConcurrentRequests is not null)
            {
                return false;
            }
        }

        return true;
    }

    public RedisKey ProviderWindows(string provider) => _redis.Keys.Provider(provider).Windows;

    public QuotaSlice Slice(RedisKey windows) => _slices.GetOrAdd(windows, static (key, time) => new QuotaSlice(key, time), _time);

    /// <summary>
    /// Decides <paramref name="request"/> from slices, refilling those that run short: the caller's request and estimated
    /// tokens are spent, the candidates' room is checked (a slice of theirs is taken when needed, spent only by an attempt).
    /// <see langword="null"/> when a refill got no answer from Redis: the request falls back as in exact mode.
    /// </summary>
    public async ValueTask<ProxyRateLimitLease?> AcquireAsync(ProxyRateLimitRequest request, long estimate, CancellationToken cancellationToken)
    {
        var limits = request.Limits;
        QuotaSlice? caller = null;
        QuotaSlice.Spent spent = default;
        if (!limits.IsUnlimited)
        {
            caller = Slice(_redis.Keys.Caller(request.Partition).Windows);
            var (answer, taken) = await SpendAsync(caller, limits, estimate).ConfigureAwait(false);
            if (answer is not { } refused)
            {
                spent = taken;
            }
            else if (refused.Reason < 0)
            {
                return null;
            }
            else
            {
                return ProxyRateLimitLease.Rejected(
                    (ProxyRateLimitReason)refused.Reason, TimeSpan.FromMilliseconds(refused.RetryAfterMs), RequestsOf(limits, refused), TokensOf(limits, refused));
            }
        }

        bool[]? full = null;
        var (limited, open, shortest) = (0, false, -1L);
        var providers = request.Providers;
        for (var i = 0; i < providers.Count; i++)
        {
            var capacity = providers[i].Limits;
            if (capacity.IsUnlimited)
            {
                open = true;
                continue;
            }

            limited++;
            var refused = await RoomAsync(Slice(ProviderWindows(providers[i].Provider)), capacity, estimate).ConfigureAwait(false);
            if (refused is { Reason: < 0 })
            {
                caller?.Unspend(limits, spent);
                return null;
            }

            if (refused is { } wait)
            {
                (full ??= new bool[providers.Count])[i] = true;
                shortest = shortest < 0 ? wait.RetryAfterMs : Math.Min(shortest, wait.RetryAfterMs);
            }
        }

        if (limited > 0 && !open && full is not null && full.Count(static f => f) == limited)
        {
            caller?.Unspend(limits, spent);
            return ProxyRateLimitLease.Rejected(ProxyRateLimitReason.ProviderCapacity, TimeSpan.FromMilliseconds(shortest), spent.RequestsWindow, spent.TokensWindow);
        }

        if (cancellationToken.IsCancellationRequested)
        {
            caller?.Unspend(limits, spent);
            cancellationToken.ThrowIfCancellationRequested();
        }

        return new SlicedLease(this, request, estimate, caller, spent, full);
    }

    /// <summary>Spends from <paramref name="slice"/>, refilling it until it holds enough; the refusal (reason -1: no answer) otherwise.</summary>
    private async ValueTask<(SliceAnswer? Refused, QuotaSlice.Spent Spent)> SpendAsync(QuotaSlice slice, ProxyLimits limits, long estimate)
    {
        while (true)
        {
            if (slice.TrySpend(limits, estimate, out var spent))
            {
                return (null, spent);
            }

            var answer = await slice.Refill((target, sentAt) => SendAsync(target, limits, estimate, sentAt)).ConfigureAwait(false);
            if (answer is not { Reason: 0 })
            {
                return (answer ?? new SliceAnswer { Reason = -1 }, default);
            }
        }
    }

    /// <summary>Whether a candidate has room, refilling its slice when it has none; the refusal otherwise (as above).</summary>
    private async ValueTask<SliceAnswer?> RoomAsync(QuotaSlice slice, ProxyLimits limits, long estimate)
    {
        while (!slice.HasRoom(limits, estimate))
        {
            var answer = await slice.Refill((target, sentAt) => SendAsync(target, limits, estimate, sentAt)).ConfigureAwait(false);
            if (answer is not { Reason: 0 })
            {
                return answer ?? new SliceAnswer { Reason = -1 };
            }
        }

        return null;
    }

    private async Task<SliceAnswer?> SendAsync(QuotaSlice slice, ProxyLimits limits, long estimate, long sentAt)
    {
        if (!_redis.TryGetDatabase(out _))
        {
            return null;
        }

        var result = await _channel.SendAsync(new SliceCall(slice.Windows, limits.RequestsPerMinute, limits.TokensPerMinute, estimate, _most)).ConfigureAwait(false);
        if (result is null || !SliceAnswer.TryParse(result, out var answer))
        {
            // No answer (timeout): the script may still have run and charged a slice nobody holds; it stays charged until
            // its window ends, at most one slice per timed-out call (an eighth of what was left).
            return null;
        }

        slice.Apply(answer, sentAt);
        return answer;
    }

    private static ProxyRateLimitWindow? RequestsOf(ProxyLimits limits, in SliceAnswer answer)
        => limits.RequestsPerMinute is { } rpm
            ? new(rpm, Math.Max(0, rpm - answer.RequestsUsed), TimeSpan.FromMilliseconds(Math.Max(0, answer.RequestResetMs)))
            : null;

    private static ProxyRateLimitWindow? TokensOf(ProxyLimits limits, in SliceAnswer answer)
        => limits.TokensPerMinute is { } tpm
            ? new(tpm, Math.Max(0, tpm - answer.TokensUsed), TimeSpan.FromMilliseconds(Math.Max(0, answer.TokenResetMs)))
            : null;

    /// <summary>Settles a request's tokens in a slice (see <see cref="QuotaSlice.Adjust"/>); what it cannot cover is charged in Redis.</summary>
    public void Adjust(QuotaSlice slice, long tokenStart, long delta)
    {
        if (slice.Adjust(tokenStart, delta) is var excess and > 0)
        {
            Charge(new FinishOperation(FinishOperation.Adjust, slice.Windows, tokenStart, excess));
        }
    }

    /// <summary>Charges in Redis what no slice covers (an attempt at a provider whose slice ran short: it goes anyway).</summary>
    public void Charge(FinishOperation operation)
    {
        _channel.Queue(operation);
        _channel.Flush();
    }

    /// <summary>Gives back what slices hold: those unused for the hold, or all of them. Nothing while Redis is unavailable
    /// (the slices stay, spendable; their quota is charged in Redis until their window ends).</summary>
    private void GiveBack(bool all)
    {
        if (!_redis.TryGetDatabase(out _))
        {
            return;
        }

        var operations = TakeUnspent(all);
        foreach (var operation in operations)
        {
            _channel.Queue(operation);
        }

        if (operations.Count > 0)
        {
            _channel.Flush();
        }
    }

    private List<FinishOperation> TakeUnspent(bool all)
    {
        var operations = new List<FinishOperation>();
        foreach (var slice in _slices.Values)
        {
            if (!slice.TryTakeUnspent(_hold, all, out var unspent))
            {
                continue;
            }

            if (unspent.Requests > 0)
            {
                operations.Add(new FinishOperation(FinishOperation.GiveBack, slice.Windows, unspent.RequestStart, unspent.Requests));
            }

            if (unspent.Tokens > 0)
            {
                operations.Add(new FinishOperation(FinishOperation.Adjust, slice.Windows, unspent.TokenStart, -unspent.Tokens));
            }
        }

        return operations;
    }

    /// <summary>Gives back everything held, through the queue (not waited for).</summary>
    public void Dispose()
    {
        _timer.Dispose();
        if (_redis.Multiplexer is { IsConnected: true })
        {
            GiveBack(all: true);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _timer.DisposeAsync().ConfigureAwait(false);
        await GiveBackAllAsync().ConfigureAwait(false);
    }

    /// <summary>Gives back everything held in one call of its own, waited for (bounded by <see cref="RedisOptions.Timeout"/>):
    /// the host does it when it stops, before it closes the connection. A request after it takes a new slice.</summary>
    public async Task GiveBackAllAsync()
    {
        if (_redis.Multiplexer is not { IsConnected: true } || !_redis.TryGetDatabase(out var database))
        {
            return; // closed already: what is held stays charged until its window ends
        }

        var operations = TakeUnspent(all: true);
        if (operations.Count == 0)
        {
            return;
        }

        var keys = new List<RedisKey>();
        var values = new List<RedisValue> { (long)InMemoryProxyRateLimiter.Window.TotalMilliseconds, (long)_redis.Options.ConcurrencyLeaseTimeout.TotalMilliseconds };
        foreach (var operation in operations)
        {
            operation.Write(keys, values);
        }

        RedisKey[] keyArray = [.. keys];
        RedisValue[] valueArray = [.. values];
        await _redis.TryRunAsync(database, "give back slices", db => RateLimitScripts.Run.EvaluateAsync(db, keyArray, valueArray), CancellationToken.None).ConfigureAwait(false);
    }
}
