using System.Collections.Concurrent;
using AiProxy.Telemetry;

namespace AiProxy.Usage;

/// <summary>
/// The default <see cref="IProxyUsageStore"/>: this instance's counters for today and yesterday (UTC), fed as an
/// <see cref="IProxyUsageObserver"/>. Older days are dropped. At most <see cref="MaxKeysPerDay"/> keys a day; past that,
/// further keys are counted with caller and model <c>_other</c>. A store shared between instances (<c>AiProxy.Redis</c>'s)
/// counts locally through it too, and answers from it while the shared store is unreachable; resolve it from the
/// container (<c>AddOpenAiProxy</c> registers it).
/// </summary>
public sealed class InMemoryProxyUsageStore : IProxyUsageStore, IProxyUsageObserver
{
    /// <summary>Distinct keys counted per day; past it, further keys are counted with caller and model <c>_other</c>.</summary>
    public const int MaxKeysPerDay = 10_000;

    private readonly ModelTagResolver _models;
    private readonly TimeProvider _time;

    internal InMemoryProxyUsageStore(ModelTagResolver models, TimeProvider time)
    {
        _models = models;
        _time = time;
    }

    private readonly Lock _gate = new();
    private Day? _today;
    private Day? _yesterday;

    /// <inheritdoc/>
    public ValueTask OnRequestCompletedAsync(ProxyUsageRecord record, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(record);
        Count(KeyOf(record), record.Usage, record.Cost, record.Unpriced);
        return ValueTask.CompletedTask;
    }

    /// <summary>The counter <paramref name="record"/> is counted under: its caller, provider and model, the model bounded
    /// as the gateway's metrics bound it (a name no provider or mapping knows is <c>_other</c>).</summary>
    public UsageCounterKey KeyOf(ProxyUsageRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        return UsageCounterKey.From(record, _models);
    }

    /// <summary>Counts one request of <paramref name="key"/> today.</summary>
    /// <param name="key">Who asked which provider for which model (<see cref="KeyOf"/>).</param>
    /// <param name="usage">Its tokens, when known.</param>
    /// <param name="cost">What it cost in USD (<see cref="ProxyUsageRecord.Cost"/>), when priced.</param>
    /// <param name="unpriced">Prices are configured but none is known for its model (<see cref="ProxyUsageRecord.Unpriced"/>).</param>
    public void Count(UsageCounterKey key, TokenUsage? usage, decimal? cost = null, bool unpriced = false)
    {
        var day = CurrentDay();
        if (!day.Counters.TryGetValue(key, out var counter))
        {
            if (day.Counters.Count >= MaxKeysPerDay)
            {
                key = key.Folded;
            }

            counter = day.Counters.GetOrAdd(key, static _ => new Counter());
        }

        Interlocked.Increment(ref counter.Requests);
        if (usage is not null)
        {
            Interlocked.Add(ref counter.InputTokens, usage.InputTokens ?? 0);
            Interlocked.Add(ref counter.OutputTokens, usage.OutputTokens ?? 0);
            Interlocked.Add(ref counter.TotalTokens, usage.TotalTokens ?? ((usage.InputTokens ?? 0) + (usage.OutputTokens ?? 0)));
        }

        if (cost is > 0)
        {
            Interlocked.Add(ref counter.CostNanos, Pricing.Nanodollars.From(cost.Value));
        }

        if (unpriced)
        {
            Interlocked.Increment(ref counter.Unpriced);
        }
    }

    /// <inheritdoc/>
    public ValueTask<ProxyDailyUsage> GetDailyUsageAsync(DateOnly day, CancellationToken cancellationToken)
        => ValueTask.FromResult(GetDailyUsage(day));

    /// <summary>This instance's counters of <paramref name="day"/> (UTC): today's or yesterday's, else empty.</summary>
    public ProxyDailyUsage GetDailyUsage(DateOnly day)
    {
        CurrentDay();
        Day? found;
        lock (_gate)
        {
            found = _today?.Date == day ? _today : _yesterday?.Date == day ? _yesterday : null;
        }

        var counters = found is null
            ? []
            : found.Counters
                .Select(static p => new ProxyUsageCounter(
                    p.Key.Caller, p.Key.Provider, p.Key.Model,
                    Volatile.Read(ref p.Value.Requests), Volatile.Read(ref p.Value.InputTokens),
                    Volatile.Read(ref p.Value.OutputTokens), Volatile.Read(ref p.Value.TotalTokens))
                {
                    Cost = Pricing.Nanodollars.ToUsd(Volatile.Read(ref p.Value.CostNanos)),
                    UnpricedRequests = Volatile.Read(ref p.Value.Unpriced),
                })
                .Order(UsageCounterOrder.Instance)
                .ToArray();
        return new ProxyDailyUsage { Day = day, IsShared = false, Counters = counters };
    }

    private Day CurrentDay()
    {
        var date = DateOnly.FromDateTime(_time.GetUtcNow().UtcDateTime);
        var today = Volatile.Read(ref _today);
        if (today is not null && today.Date == date)
        {
            return today;
        }

        lock (_gate)
        {
            if (_today is null || _today.Date != date)
            {
                _yesterday = _today is not null && _today.Date == date.AddDays(-1) ? _today : null;
                Volatile.Write(ref _today, new Day(date));
            }

            return _today!;
        }
    }

    private sealed class Day(DateOnly date)
    {
        public DateOnly Date { get; } = date;

        public ConcurrentDictionary<UsageCounterKey, Counter> Counters { get; } = new();
    }

    private sealed class Counter
    {
        public long Requests;
        public long InputTokens;
        public long OutputTokens;
        public long TotalTokens;
        public long CostNanos;
        public long Unpriced;
    }
}
