using AiProxy.RateLimiting;
using AiProxy.Redis.Connection;
using StackExchange.Redis;

namespace AiProxy.Redis.RateLimiting;

/// <summary>
/// An admitted request under the shared limiter. Mirrors the in-memory lease: the caller was charged by the acquire
/// script; the selected provider is charged off the request path (<see cref="OnProviderSelected"/> cannot wait); the
/// settlement is kept until disposal, then settling and releasing are queued and sent in batches, off the request path.
/// </summary>
internal sealed class RedisLease(
    RedisProxyRateLimiter owner,
    ProxyRateLimitRequest request,
    RedisKeys.LimitKeys? callerKeys,
    long estimate,
    string id,
    ProxyRateLimitWindow? requests,
    ProxyRateLimitWindow? tokens,
    long callerWindowStart,
    string available) : ProxyRateLimitLease, IConcurrencySlots
{
    private volatile int _selectedIndex = -1;
    private Task<long>? _selectedCharge;
    private int _selected;
    private int _settled;
    private string? _answeredBy;
    private long _actualTokens;
    private int _disposed;

    public string Id { get; } = id;

    public override bool IsAcquired => true;

    public override ProxyRateLimitReason Reason => ProxyRateLimitReason.None;

    public override TimeSpan RetryAfter => TimeSpan.Zero;

    public override ProxyRateLimitWindow? Requests { get; } = requests;

    public override ProxyRateLimitWindow? Tokens { get; } = tokens;

    /// <summary>
    /// Whether the acquire found room at <paramref name="provider"/>. Its availability covers only the candidates with a
    /// capacity, in order, and is empty when every one had room.
    /// </summary>
    public override bool HasProviderCapacity(string provider)
    {
        var index = request.IndexOfProvider(provider);
        if (index < 0 || available.Length == 0 || request.Providers[index].Limits.IsUnlimited)
        {
            return true;
        }

        var position = 0;
        for (var i = 0; i < index; i++)
        {
            position += request.Providers[i].Limits.IsUnlimited ? 0 : 1;
        }

        return position >= available.Length || available[position] == '1';
    }

    public override void OnProviderSelected(string provider)
    {
        var index = request.IndexOfProvider(provider);
        if (index < 0 || request.Providers[index].Limits.IsUnlimited || Interlocked.Exchange(ref _selected, 1) != 0)
        {
            return;
        }

        var capacity = request.Providers[index].Limits;
        _selectedCharge = owner.ChargeProviderAsync(request.Providers[index].Provider, capacity, estimate, Id);
        _selectedIndex = index;
        if (capacity.MaxConcurrentRequests is not null)
        {
            owner.Renewal.Track(this);
        }
    }

    public override ValueTask SettleAsync(string? provider, long? actualTokens, CancellationToken cancellationToken)
    {
        if (actualTokens is { } actual && Interlocked.Exchange(ref _settled, 1) == 0)
        {
            _answeredBy = provider;
            _actualTokens = Math.Max(0, actual);
        }

        return ValueTask.CompletedTask;
    }

    public override async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        var selectedStart = _selectedCharge is { } charge ? await charge.ConfigureAwait(false) : -1;
        owner.Renewal.Untrack(this);
        var redis = owner.Redis;
        if (!redis.TryGetDatabase(out _))
        {
            return; // its slots expire on their own
        }

        // Queued, not awaited: the request does not wait for Redis to settle and release (see LimiterChannel.Queue).
        var settled = Volatile.Read(ref _settled) == 1;
        var actual = _actualTokens;
        var delta = actual - estimate;
        var limits = request.Limits;
        var queued = false;
        if (callerKeys is { } caller)
        {
            if (settled && limits.TokensPerMinute is not null && callerWindowStart >= 0 && delta != 0)
            {
                owner.Channel.Queue(new(FinishOperation.Adjust, caller.Windows, callerWindowStart, delta));
                queued = true;
            }

            if (limits.MaxConcurrentRequests is not null)
            {
                owner.Channel.Queue(new(FinishOperation.Release, caller.Concurrent, Id, 0));
                queued = true;
            }
        }

        var selectedIndex = _selectedIndex;
        var answeredBySelected = false;
        if (selectedIndex >= 0)
        {
            var capacity = request.Providers[selectedIndex];
            var keys = redis.Keys.Provider(capacity.Provider);
            answeredBySelected = string.Equals(_answeredBy, capacity.Provider, StringComparison.OrdinalIgnoreCase);

            // The selected provider that did not answer keeps the attempt but not the tokens.
            var selectedDelta = answeredBySelected ? delta : -estimate;
            if (settled && capacity.Limits.TokensPerMinute is not null && selectedStart >= 0 && selectedDelta != 0)
            {
                owner.Channel.Queue(new(FinishOperation.Adjust, keys.Windows, selectedStart, selectedDelta));
                queued = true;
            }

            if (capacity.Limits.MaxConcurrentRequests is not null)
            {
                owner.Channel.Queue(new(FinishOperation.Release, keys.Concurrent, Id, 0));
                queued = true;
            }
        }

        if (settled && !answeredBySelected && _answeredBy is { } other && request.IndexOfProvider(other) is var index and >= 0 && !request.Providers[index].Limits.IsUnlimited)
        {
            // A fallback answered instead: it was never charged, so it gets the request and what it really used.
            var answered = request.Providers[index];
            var keys = redis.Keys.Provider(answered.Provider);
            if (answered.Limits.RequestsPerMinute is not null)
            {
                owner.Channel.Queue(new(FinishOperation.ChargeRequest, keys.Windows, 0, 0));
                queued = true;
            }

            if (answered.Limits.TokensPerMinute is not null && actual > 0)
            {
                owner.Channel.Queue(new(FinishOperation.ChargeTokens, keys.Windows, actual, 0));
                queued = true;
            }
        }

        if (queued)
        {
            owner.Channel.Flush();
        }
    }

    /// <summary>Adds this lease's concurrent slots to a renewal.</summary>
    public void AddSlots(List<RedisKey> keys, List<RedisValue> values)
    {
        if (callerKeys is { } caller && request.Limits.MaxConcurrentRequests is not null)
        {
            keys.Add(caller.Concurrent);
            values.Add(Id);
        }

        if (_selectedIndex is var index and >= 0 && request.Providers[index].Limits.MaxConcurrentRequests is not null)
        {
            keys.Add(owner.Redis.Keys.Provider(request.Providers[index].Provider).Concurrent);
            values.Add(Id);
        }
    }
}
