using System.Collections.Concurrent;
using AiProxy.Pricing;
using AiProxy.Redis.Connection;
using AiProxy.Telemetry;
using AiProxy.Usage;
using StackExchange.Redis;

namespace AiProxy.Redis.Usage;

/// <summary>
/// Usage counters shared by every instance: one hash per UTC day (<c>{prefix}usage:{yyyy-MM-dd}</c>, kept for
/// <see cref="RedisOptions.UsageRetention"/>) whose fields are <c>{token}|{provider}|{model}|{metric}</c>, incremented with
/// <c>HINCRBY</c> in batches at most <see cref="FlushInterval"/> apart (other instances' counts show that much later). Token names only, never keys. While Redis is unavailable, reads fall back to this
/// instance's own counters (<see cref="ProxyDailyUsage.IsShared"/> is then <see langword="false"/>), and what is counted
/// meanwhile is missing from the shared totals.
/// </summary>
internal sealed class RedisUsageStore(RedisConnection redis, InMemoryProxyUsageStore local, TimeProvider time) : IProxyUsageStore, IProxyUsageObserver
{
    private const char Separator = '|';

    private static readonly string[] Metrics = ["requests", "input_tokens", "output_tokens", "total_tokens", "cost_nanos", "unpriced"];

    /// <summary>How long increments gather in memory before one batch carries them all to Redis.</summary>
    internal static readonly TimeSpan FlushInterval = TimeSpan.FromMilliseconds(250);

    private readonly ConcurrentDictionary<(DateOnly Day, UsageCounterKey Key), PendingCounts> _pending = new();
    private readonly SemaphoreSlim _flushGate = new(1, 1);
    private SentKeys? _sent;
    private int _flushScheduled;

    /// <summary>
    /// Adds the request to this instance's pending increments; a flush at most <see cref="FlushInterval"/> later sends
    /// every increment gathered meanwhile in one batch, so a busy instance sends one <c>HINCRBY</c> per counter and
    /// interval instead of several commands per request.
    /// </summary>
    public ValueTask OnRequestCompletedAsync(ProxyUsageRecord record, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(record);
        var day = DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);
        var key = Bounded(day, local.KeyOf(record));
        var counts = _pending.GetOrAdd((day, key), static _ => new PendingCounts());
        Interlocked.Increment(ref counts.Values[0]);
        if (record.Usage is { } usage)
        {
            Interlocked.Add(ref counts.Values[1], usage.InputTokens ?? 0);
            Interlocked.Add(ref counts.Values[2], usage.OutputTokens ?? 0);
            Interlocked.Add(ref counts.Values[3], usage.TotalTokens ?? ((usage.InputTokens ?? 0) + (usage.OutputTokens ?? 0)));
        }

        if (record.Cost is > 0)
        {
            Interlocked.Add(ref counts.Values[4], Nanodollars.From(record.Cost.Value));
        }

        if (record.Unpriced)
        {
            Interlocked.Increment(ref counts.Values[5]);
        }

        if (Interlocked.CompareExchange(ref _flushScheduled, 1, 0) == 0)
        {
            _ = FlushLaterAsync();
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// <paramref name="key"/>, or past <see cref="InMemoryProxyUsageStore.MaxKeysPerDay"/> distinct keys sent for
    /// <paramref name="day"/> a key not sent yet folded (caller and model <c>_other</c>), as the in-memory store does: this
    /// instance adds at most that many keys a day to the shared hash.
    /// </summary>
    private UsageCounterKey Bounded(DateOnly day, UsageCounterKey key)
    {
        var sent = Volatile.Read(ref _sent);
        if (sent is null || sent.Day != day)
        {
            var fresh = new SentKeys(day);
            var current = Interlocked.CompareExchange(ref _sent, fresh, sent);
            sent = current == sent ? fresh : current!;
            if (sent.Day != day)
            {
                // Another thread moved to a different day meanwhile (clock at midnight): count this one under its own set.
                sent = fresh;
            }
        }

        if (sent.Keys.ContainsKey(key))
        {
            return key;
        }

        if (Volatile.Read(ref sent.Count) >= InMemoryProxyUsageStore.MaxKeysPerDay)
        {
            key = key.Folded;
        }

        if (sent.Keys.TryAdd(key, 0))
        {
            Interlocked.Increment(ref sent.Count);
        }

        return key;
    }

    private async Task FlushLaterAsync()
    {
        try
        {
            await Task.Delay(FlushInterval, time).ConfigureAwait(false);
        }
        finally
        {
            Volatile.Write(ref _flushScheduled, 0);
        }

        await FlushAsync(CancellationToken.None).ConfigureAwait(false);
    }

    /// <summary>Sends every pending increment; while Redis is unavailable they are dropped (this instance's own counts stay).</summary>
    internal async Task FlushAsync(CancellationToken cancellationToken)
    {
        await _flushGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var today = DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);
            var increments = new List<(DateOnly Day, string Field, long Value)>();
            foreach (var (key, counts) in _pending)
            {
                var any = false;
                string? prefix = null;
                for (var metric = 0; metric < Metrics.Length; metric++)
                {
                    var value = Interlocked.Exchange(ref counts.Values[metric], 0);
                    if (value != 0)
                    {
                        prefix ??= Field(key.Key);
                        increments.Add((key.Day, prefix + Metrics[metric], value));
                        any = true;
                    }
                }

                if (!any && key.Day < today)
                {
                    _pending.TryRemove(key, out _);
                }
            }

            if (increments.Count == 0 || !redis.TryGetDatabase(out var database))
            {
                return;
            }

            var retention = redis.Options.UsageRetention;
            await redis.TryRunAsync(database, "count usage", async db =>
            {
                var batch = db.CreateBatch();
                var tasks = new List<Task>(increments.Count + 2);
                foreach (var (day, field, value) in increments)
                {
                    tasks.Add(batch.HashIncrementAsync(redis.Keys.Usage(day), field, value));
                }

                foreach (var day in increments.Select(static i => i.Day).Distinct())
                {
                    tasks.Add(batch.KeyExpireAsync(redis.Keys.Usage(day), retention));
                }

                batch.Execute();
                await Task.WhenAll(tasks).ConfigureAwait(false);
                return true;
            }, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _flushGate.Release();
        }
    }

    public async ValueTask<ProxyDailyUsage> GetDailyUsageAsync(DateOnly day, CancellationToken cancellationToken)
    {
        await FlushAsync(cancellationToken).ConfigureAwait(false); // this instance's own counts are never behind
        if (redis.TryGetDatabase(out var database))
        {
            var hash = redis.Keys.Usage(day);
            var (ok, entries) = await redis.TryRunAsync(database, "read usage", db => db.HashGetAllAsync(hash), cancellationToken).ConfigureAwait(false);
            if (ok)
            {
                return new ProxyDailyUsage { Day = day, IsShared = true, Counters = Parse(entries) };
            }
        }

        return local.GetDailyUsage(day);
    }

    /// <summary>A key's increments not sent yet, one per <see cref="Metrics"/> entry (strings are built only when sent).</summary>
    private sealed class PendingCounts
    {
        public readonly long[] Values = new long[Metrics.Length];
    }

    /// <summary>The distinct keys this instance sent for one day.</summary>
    private sealed class SentKeys(DateOnly day)
    {
        public DateOnly Day { get; } = day;

        public ConcurrentDictionary<UsageCounterKey, byte> Keys { get; } = new();

        public int Count;
    }

    internal static string Field(UsageCounterKey key)
        => string.Concat(Clean(key.Caller), "|", Clean(key.Provider), "|", Clean(key.Model), "|");

    private static string Clean(string part) => part.Replace(Separator, '_');

    private static ProxyUsageCounter[] Parse(HashEntry[] entries)
    {
        var counters = new Dictionary<(string, string, string), long[]>();
        foreach (var entry in entries)
        {
            var parts = ((string?)entry.Name)?.Split(Separator);
            if (parts is not { Length: 4 } || !entry.Value.TryParse(out long value))
            {
                continue;
            }

            var metric = Array.IndexOf(Metrics, parts[3]);
            if (metric < 0)
            {
                continue;
            }

            var id = (parts[0], parts[1], parts[2]);
            if (!counters.TryGetValue(id, out var values))
            {
                counters[id] = values = new long[Metrics.Length];
            }

            values[metric] += value;
        }

        return counters
            .Select(static c => new ProxyUsageCounter(c.Key.Item1, c.Key.Item2, c.Key.Item3, c.Value[0], c.Value[1], c.Value[2], c.Value[3])
            {
                Cost = Nanodollars.ToUsd(c.Value[4]),
                UnpricedRequests = c.Value[5],
            })
            .Order(ProxyUsageCounter.Order)
            .ToArray();
    }
}
