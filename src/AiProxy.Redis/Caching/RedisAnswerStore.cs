using AiProxy.Redis.Connection;
using Microsoft.Extensions.Caching.Distributed;
using StackExchange.Redis;

namespace AiProxy.Redis.Caching;

/// <summary>
/// The response cache's distributed tier over the gateway's existing Redis connection: registered only under the cache's
/// service key, so the host app's own <see cref="IDistributedCache"/> (if any) is never replaced. Keys live under
/// <see cref="RedisOptions.KeyPrefix"/> and hold only the cache key's hash. While Redis is unavailable every read is a
/// miss and every write is skipped: the cache then works per instance.
/// </summary>
internal sealed class RedisAnswerStore(RedisConnection connection) : IDistributedCache
{
    private readonly string _prefix = connection.Options.KeyPrefix + "cache:";

    public byte[]? Get(string key) => GetAsync(key).GetAwaiter().GetResult();

    public async Task<byte[]?> GetAsync(string key, CancellationToken token = default)
    {
        if (!connection.TryGetDatabase(out var database))
        {
            return null;
        }

        var (ok, value) = await connection.TryRunAsync(
            database, "cache read", (RedisKey)(_prefix + key), static (db, k) => db.StringGetAsync(k), token).ConfigureAwait(false);
        return ok && value.HasValue ? (byte[]?)value : null;
    }

    public void Set(string key, byte[] value, DistributedCacheEntryOptions options) => SetAsync(key, value, options).GetAwaiter().GetResult();

    public async Task SetAsync(string key, byte[] value, DistributedCacheEntryOptions options, CancellationToken token = default)
    {
        if (!connection.TryGetDatabase(out var database))
        {
            return;
        }

        var expiry = options.AbsoluteExpirationRelativeToNow
            ?? (options.AbsoluteExpiration is { } at ? at - DateTimeOffset.UtcNow : options.SlidingExpiration)
            ?? TimeSpan.FromHours(1);
        await connection.TryRunAsync(
            database, "cache write", (Key: (RedisKey)(_prefix + key), Value: value, Expiry: expiry),
            static (db, s) => db.StringSetAsync(s.Key, s.Value, new Expiration(s.Expiry)), token).ConfigureAwait(false);
    }

    public void Refresh(string key)
    {
    }

    public Task RefreshAsync(string key, CancellationToken token = default) => Task.CompletedTask;

    public void Remove(string key) => RemoveAsync(key).GetAwaiter().GetResult();

    public async Task RemoveAsync(string key, CancellationToken token = default)
    {
        if (connection.TryGetDatabase(out var database))
        {
            await connection.TryRunAsync(database, "cache remove", (RedisKey)(_prefix + key), static (db, k) => db.KeyDeleteAsync(k), token).ConfigureAwait(false);
        }
    }
}
