using AiProxy.Attempts;
using AiProxy.Pipeline;
using AiProxy.Pricing;
using AiProxy.Requests;
using AiProxy.Tokens;
using AiProxy.Usage;
using Microsoft.Extensions.Options;

namespace AiProxy.History;

/// <summary>
/// This process's last hour of traffic for <c>/status/history</c> and the dashboard: per provider, 10 s buckets of
/// attempts, failures, tokens and latency histograms (<see cref="ProviderHistory"/>), the response cache's hits and
/// misses in the same buckets (<see cref="CacheHistory"/>), and the last 100 requests
/// (<see cref="RecentRequests"/>). An observer of the pipeline: each request's end (<see cref="OnRequestEndedAsync"/>)
/// costs a few atomic adds and allocates nothing; <c>Status:History = false</c> turns it off.
/// </summary>
/// <remarks>Memory is bounded whatever the traffic: <see cref="ProviderHistory.BudgetBytes"/> per provider, for at most
/// <see cref="MaxSeries"/> providers (more, which only reloads that keep adding names can make, share the series
/// <see cref="OtherSeries"/>), plus the ring of recent requests. Each instance keeps its own: with Redis, the history
/// and the recent requests are this instance's, while the day's usage in <c>/status</c> is shared.</remarks>
internal sealed class RequestHistory(IOptionsMonitor<OpenAiProxyOptions> options, TimeProvider time) : IProxyExchangeObserver
{
    /// <summary>Seconds per bucket.</summary>
    public const int BucketSeconds = 10;

    /// <summary>Providers with their own series.</summary>
    public const int MaxSeries = 64;

    /// <summary>The series of providers past <see cref="MaxSeries"/>.</summary>
    public const string OtherSeries = "_other";

    private readonly object _seriesLock = new();
    private ProviderHistory[] _series = [];

    public RecentRequests Recent { get; } = new();

    /// <summary>The response cache's hits and misses per bucket, for the whole gateway.</summary>
    public CacheHistory Cache { get; } = new();

    /// <summary>The providers with a series, in the order they were first seen.</summary>
    public IReadOnlyList<ProviderHistory> Series => Volatile.Read(ref _series);

    /// <summary>The bucket the clock is in now.</summary>
    public long CurrentBucket => BucketOf(time.GetUtcNow());

    public static long BucketOf(DateTimeOffset time) => time.ToUnixTimeSeconds() / BucketSeconds;

    public static DateTimeOffset StartOf(long bucket) => DateTimeOffset.FromUnixTimeSeconds(bucket * BucketSeconds);

    /// <summary>A request that went through the pipeline ended: recorded at once, synchronously.</summary>
    public ValueTask OnRequestEndedAsync(RequestEnded request, CancellationToken cancellationToken)
    {
        Record(request.Request, request.Caller, request.Result, request.Outcome, request.StatusCode, request.Duration, request.Usage, request.Cost);
        return ValueTask.CompletedTask;
    }

    /// <summary>Records a request that went through the pipeline; <paramref name="cost"/> is its real cost in USD when
    /// pricing is on (<see langword="null"/> when unpriced or off).</summary>
    public void Record(ProxyRequest request, ProxyCaller caller, ForwardResult result, ProxyRequestOutcome outcome, int status, TimeSpan elapsed, TokenUsage? tokens, decimal? cost = null)
    {
        if (!options.CurrentValue.Status.History)
        {
            return;
        }

        Record(new HistoryEntry(
            caller.Name, request.Path, request.Inspection.Model, result.Provider?.Name, result.Route, result.Attempts,
            outcome == ProxyRequestOutcome.ClientDisconnected ? 499 : status,
            outcome is ProxyRequestOutcome.Failed or ProxyRequestOutcome.UpstreamBroken,
            elapsed, result.TimeToFirstEvent ?? result.TimeToFirstByte, tokens?.InputTokens, tokens?.OutputTokens, request.Inspection.Stream, cost));
    }

    /// <summary>Counts a response cache hit (or miss) in the present bucket: one atomic increment.</summary>
    public void RecordCache(bool hit)
    {
        if (options.CurrentValue.Status.History)
        {
            Cache.Record(CurrentBucket, hit);
        }
    }

    /// <summary>Records <paramref name="entry"/> at the clock's present time.</summary>
    public void Record(in HistoryEntry entry)
    {
        var now = time.GetUtcNow();
        var bucket = BucketOf(now);
        var failed = entry.Failed || entry.Status >= 500 || entry.Status == 429;

        // Every attempt before the last one failed (the dispatcher only moves on from a failure). The common request has one
        // attempt and skips this; a request that fell back reads its route, "groq:503,openai:200", once.
        if (entry.Attempts > 1 || (entry.Provider is null && entry.Attempts > 0))
        {
            CountEarlierAttempts(entry.AttemptRoute, bucket, countLast: entry.Provider is null);
        }

        if (entry.Provider is { } provider)
        {
            SeriesFor(provider).Record(
                bucket, failed, entry.Duration, entry.FirstToken, entry.InputTokens ?? 0, entry.OutputTokens ?? 0, Nanodollars.From(entry.Cost ?? 0));
        }

        Recent.Add(new RecentRequest(now, entry.Caller, entry.Path, entry.Model, entry.Provider, entry.Status, entry.Duration,
            entry.InputTokens, entry.OutputTokens, entry.Stream));
    }

    private void CountEarlierAttempts(string route, long bucket, bool countLast)
    {
        var rest = route.AsSpan();
        while (!rest.IsEmpty)
        {
            var comma = rest.IndexOf(',');
            var attempt = comma < 0 ? rest : rest[..comma];
            rest = comma < 0 ? default : rest[(comma + 1)..];
            if (rest.IsEmpty && !countLast)
            {
                return; // the answering attempt: recorded with the request
            }

            var colon = attempt.LastIndexOf(':');
            var name = colon < 0 ? attempt : attempt[..colon];
            if (!name.IsEmpty)
            {
                SeriesFor(name).Record(bucket, failed: true, duration: null, firstToken: null, 0, 0);
            }
        }
    }

    private ProviderHistory SeriesFor(string name)
    {
        foreach (var series in Volatile.Read(ref _series))
        {
            if (ReferenceEquals(series.Name, name) || string.Equals(series.Name, name, StringComparison.Ordinal))
            {
                return series;
            }
        }

        return AddSeries(name);
    }

    private ProviderHistory SeriesFor(ReadOnlySpan<char> name)
    {
        foreach (var series in Volatile.Read(ref _series))
        {
            if (name.SequenceEqual(series.Name))
            {
                return series;
            }
        }

        return AddSeries(name.ToString());
    }

    private ProviderHistory AddSeries(string name)
    {
        lock (_seriesLock)
        {
            var all = _series;
            foreach (var series in all)
            {
                if (string.Equals(series.Name, name, StringComparison.Ordinal))
                {
                    return series;
                }
            }

            if (all.Length >= MaxSeries)
            {
                var other = Array.Find(all, static s => s.Name == OtherSeries);
                if (other is not null)
                {
                    return other;
                }

                name = OtherSeries;
            }

            var added = new ProviderHistory(name);
            Volatile.Write(ref _series, [.. all, added]);
            return added;
        }
    }
}

