using System.Collections.Concurrent;
using AiProxy.Redis.Connection;
using StackExchange.Redis;

namespace AiProxy.Redis.RateLimiting;

/// <summary>
/// Keeps the concurrent slots of requests still in flight alive. A slot expires <see cref="RedisOptions.ConcurrencyLeaseTimeout"/>
/// after it was taken, so the slots of an instance that died free themselves; every third of that time, one call
/// (<see cref="RateLimitScripts.Renew"/>) extends the slots of every tracked holder, off the request path. A slot that
/// already expired is not brought back.
/// </summary>
internal sealed class SlotRenewal : IDisposable
{
    private readonly RedisConnection _redis;
    private readonly RedisValue _leaseTtl;
    private readonly ConcurrentDictionary<IConcurrencySlots, byte> _held = new();
    private readonly ITimer _timer;

    public SlotRenewal(RedisConnection redis, TimeProvider time)
    {
        _redis = redis;
        _leaseTtl = (long)redis.Options.ConcurrencyLeaseTimeout.TotalMilliseconds;
        var every = redis.Options.ConcurrencyLeaseTimeout / 3;
        _timer = time.CreateTimer(static state => _ = ((SlotRenewal)state!).RenewAsync(), this, every, every);
        redis.AddWarmup(WarmUpAsync);
    }

    /// <summary>Holders tracked for renewal (tests).</summary>
    public int Count => _held.Count;

    /// <summary>Renews <paramref name="holder"/>'s slots from now on, until <see cref="Untrack"/>; tracking twice is once.</summary>
    public void Track(IConcurrencySlots holder) => _held.TryAdd(holder, 0);

    public void Untrack(IConcurrencySlots holder) => _held.TryRemove(holder, out _);

    /// <summary>Extends every tracked slot in one call; nothing when none is held or Redis is unavailable. Never throws.</summary>
    internal async Task RenewAsync()
    {
        if (_held.IsEmpty || !_redis.TryGetDatabase(out var database))
        {
            return;
        }

        var keys = new List<RedisKey>();
        var values = new List<RedisValue> { _leaseTtl };
        foreach (var holder in _held.Keys)
        {
            holder.AddSlots(keys, values);
        }

        if (keys.Count > 0)
        {
            RedisKey[] keyArray = [.. keys];
            RedisValue[] valueArray = [.. values];
            await _redis.TryRunAsync(database, "renew slots", db => RateLimitScripts.Renew.EvaluateAsync(db, keyArray, valueArray), CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>Runs the script once with nothing to renew, so it is cached on the server.</summary>
    private Task WarmUpAsync(IDatabase database) => RateLimitScripts.Renew.EvaluateAsync(database, [], [_leaseTtl]);

    public void Dispose() => _timer.Dispose();
}
