using StackExchange.Redis;

namespace AiProxy.Redis.RateLimiting;

/// <summary>Something holding concurrent slots in Redis (a lease in flight): it names them for a renewal.</summary>
internal interface IConcurrencySlots
{
    /// <summary>Adds each slot held now: its sorted set to <paramref name="keys"/> and its member to
    /// <paramref name="members"/>, in the same order.</summary>
    void AddSlots(List<RedisKey> keys, List<RedisValue> members);
}
