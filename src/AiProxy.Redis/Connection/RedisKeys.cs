using System.Collections.Concurrent;
using System.Globalization;
using StackExchange.Redis;

namespace AiProxy.Redis.Connection;

/// <summary>
/// Every key and channel name the gateway uses, all under <see cref="RedisOptions.KeyPrefix"/>. Names hold partitions
/// (<c>token:{name}</c>), provider names and days: never a key or anything secret.
/// </summary>
internal sealed class RedisKeys
{
    private const int MaxCached = 10_000;

    private readonly string _prefix;
    private readonly ConcurrentDictionary<string, LimitKeys> _callers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, LimitKeys> _providers = new(StringComparer.OrdinalIgnoreCase);

    public RedisKeys(string prefix)
    {
        _prefix = prefix;
        Unused = prefix + "unused";
        CooldownChannel = RedisChannel.Literal(prefix + "cooldowns");
    }

    /// <summary>A placeholder for key slots a script leaves alone (its arguments say so); never written.</summary>
    public RedisKey Unused { get; }

    /// <summary>The pub/sub channel cooldowns are announced on.</summary>
    public RedisChannel CooldownChannel { get; }

    public LimitKeys Caller(string partition) => Get(_callers, "limits:", partition, lowerCase: false);

    /// <summary>A provider's keys; names differing only in letter case share them (looked up as given, lower-cased only
    /// when the keys are built).</summary>
    public LimitKeys Provider(string provider) => Get(_providers, "limits:provider:", provider, lowerCase: true);

    public RedisKey Cooldown(string provider) => _prefix + "cooldown:" + provider.ToLowerInvariant();

    /// <summary>A budget's hash (<c>s</c> spent, <c>r</c> reserved, in billionths of a dollar); its key names owner and period.</summary>
    public RedisKey Budget(string key) => _prefix + "budget:" + key;

    public RedisKey Usage(DateOnly day) => _prefix + "usage:" + day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    private LimitKeys Get(ConcurrentDictionary<string, LimitKeys> cache, string kind, string name, bool lowerCase)
    {
        if (cache.TryGetValue(name, out var keys))
        {
            return keys;
        }

        var baseName = _prefix + kind + (lowerCase ? name.ToLowerInvariant() : name);
        keys = new LimitKeys(baseName + ":windows", baseName + ":concurrent");
        if (cache.Count < MaxCached)
        {
            cache.TryAdd(name, keys);
        }

        return keys;
    }

    /// <summary>The two keys of one caller's or provider's limits: its two windows (a hash of the request window's start
    /// <c>rs</c> and count <c>r</c>, the token window's start <c>ts</c> and tokens used <c>u</c>) and a sorted set of
    /// concurrent leases scored by their expiry.</summary>
    internal sealed record LimitKeys(RedisKey Windows, RedisKey Concurrent);
}
