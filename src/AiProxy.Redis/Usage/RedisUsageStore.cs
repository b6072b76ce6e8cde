using AiProxy.Redis.Connection;
using AiProxy.Telemetry;
using AiProxy.Usage;
using StackExchange.Redis;

namespace AiProxy.Redis.Usage;

/// <summary>
/// Usage counters shared by every instance: one hash per UTC day (<c>{prefix}usage:{yyyy-MM-dd}</c>, kept for
/// <see cref="RedisOptions.UsageRetention"/>) whose fields are <c>{token}|{provider}|{model}|{metric}</c>, incremented with
/// <c>HINCRBY</c> after each response. Token names only, never keys. While Redis is unavailable, reads fall back to this
/// instance's own counters (<see cref="ProxyDailyUsage.IsShared"/> is then <see langword="false"/>), and what is counted
/// meanwhile is missing from the shared totals.
/// </summary>
internal sealed class RedisUsageStore(RedisConnection redis, InMemoryProxyUsageStore local, ModelTagResolver models, TimeProvider time) : IProxyUsageStore, IProxyUsageObserver
{
    private const char Separator = '|';

    private static readonly string[] Metrics = ["requests", "input_tokens", "output_tokens", "total_tokens"];

    public async ValueTask OnRequestCompletedAsync(ProxyUsageRecord record, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (!redis.TryGetDatabase(out var database))
        {
            return;
        }

        var key = UsageCounterKey.From(record, models);
        var usage = record.Usage;
        var prefix = Field(key);
        var hash = redis.Keys.Usage(DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime));
        var retention = redis.Options.UsageRetention;
        await redis.TryRunAsync(database, "count usage", async db =>
        {
            var batch = db.CreateBatch();
            var tasks = new List<Task> { batch.HashIncrementAsync(hash, prefix + Metrics[0]) };
            if (usage is not null)
            {
                var total = usage.TotalTokens ?? ((usage.InputTokens ?? 0) + (usage.OutputTokens ?? 0));
                tasks.Add(batch.HashIncrementAsync(hash, prefix + Metrics[1], usage.InputTokens ?? 0));
                tasks.Add(batch.HashIncrementAsync(hash, prefix + Metrics[2], usage.OutputTokens ?? 0));
                tasks.Add(batch.HashIncrementAsync(hash, prefix + Metrics[3], total));
            }

            tasks.Add(batch.KeyExpireAsync(hash, retention));
            batch.Execute();
            await Task.WhenAll(tasks).ConfigureAwait(false);
            return true;
        }, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<ProxyDailyUsage> GetDailyUsageAsync(DateOnly day, CancellationToken cancellationToken)
    {
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
            .Select(static c => new ProxyUsageCounter(c.Key.Item1, c.Key.Item2, c.Key.Item3, c.Value[0], c.Value[1], c.Value[2], c.Value[3]))
            .Order(UsageCounterOrder.Instance)
            .ToArray();
    }
}
