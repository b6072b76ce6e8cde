using System.Diagnostics.Metrics;
using AiProxy.History;
using AiProxy.Requests;
using AiProxy.Telemetry;
using AiProxy.Tokens;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.DependencyInjection;

namespace AiProxy.Caching;

/// <summary>
/// The response cache's store and counters: a keyed <see cref="HybridCache"/> (in memory, plus Redis with
/// <c>AddRedis</c>) that is created on first use, so a gateway with the cache off never builds it. Lookups happen before
/// admission so that a hit reserves no tokens; the answer is only served once the request is admitted.
/// </summary>
internal sealed class ResponseCache : IDisposable
{
    /// <summary>The service key of the cache's <see cref="HybridCache"/> and of its distributed tier, if any: the host
    /// app's own caches are never touched.</summary>
    public const string ServiceKey = ResponseCacheServiceKeys.DistributedCache;

    public const string Header = "x-aiproxy-cache";

    private static readonly HybridCacheEntryOptions PeekOptions = new() { Flags = HybridCacheEntryFlags.DisableUnderlyingData };

    private readonly IServiceProvider _services;
    private readonly TimeProvider _time;
    private readonly RequestHistory _history;
    private readonly Meter? _ownedMeter;
    private readonly Counter<long> _requests;
    private ResponseCacheStore? _store;
    private long _hits;
    private long _misses;

    public ResponseCache(IServiceProvider services, TimeProvider time, RequestHistory history, IMeterFactory? meterFactory = null)
    {
        _services = services;
        _time = time;
        _history = history;
        var options = new MeterOptions(TelemetryConsts.Name) { Version = ProxyTracing.Version };
        var meter = meterFactory?.Create(options) ?? (_ownedMeter = new Meter(options));
        _requests = meter.CreateCounter<long>("aiproxy.cache.requests", "{request}", "Requests the response cache answered (hit) or had to fetch (miss).");
    }

    public HybridCache Store => (_store ??= _services.GetRequiredService<ResponseCacheStore>()).Cache;

    public long Hits => Interlocked.Read(ref _hits);

    public long Misses => Interlocked.Read(ref _misses);

    /// <summary>Whether the cache has a say in <paramref name="caller"/>'s requests: it is on, or on for this token. A token
    /// that opted out of a cache that is on still gets <c>x-aiproxy-cache: bypass</c>.</summary>
    public static bool IsInvolved(ProxyCaller caller, OpenAiProxyOptions current) => current.Cache.Enabled || caller.Cache == true;

    /// <summary>Whether the cache has been on at all since start (for <c>/status</c>).</summary>
    public bool WasUsed => _store is not null;

    /// <summary>The memory the stored answers take on this instance and its bound (zero until the cache is first used).</summary>
    public (long Bytes, long Entries, long Limit) MemoryUse()
    {
        if (_store is not { } store)
        {
            return default;
        }

        var (bytes, entries) = store.MemoryUse();
        return (bytes, entries, store.MemoryLimit);
    }

    public static bool IsCacheableRoute(ProxyRequest request)
        => request.Path is "chat/completions" or "completions" or "embeddings" or "messages"
           && string.Equals(request.Method, "POST", StringComparison.OrdinalIgnoreCase);

    public long Now => _time.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>Computes the request's key and looks for a stored answer that is still fresh (unless <c>no-cache</c>).</summary>
    public async ValueTask<CacheLookup> LookupAsync(ProxyRequest request, ProxyCaller caller, OpenAiProxyOptions current, CancellationToken cancellationToken)
    {
        if (!IsCacheableRoute(request))
        {
            return default;
        }

        if (caller.Cache == false)
        {
            return CacheLookup.Bypass;
        }

        var settings = current.Cache;
        var directives = request.CacheDirectives;
        var scope = settings.Scope == ResponseCacheScope.Global ? "global" : caller.Partition;
        // The inbound API is part of the route: an Anthropic client's translated body must not hit an OpenAI client's answer.
        var route = request.Translation is null ? request.Path : request.Inbound.Name + ":" + request.Path;
        var key = request.Inspection.IsJson ? CacheKey.Compute(scope, route, request.Inspection.Stream, request.Body.Span) : null;
        if (key is null || (directives.NoCache && directives.NoStore))
        {
            return CacheLookup.Bypass;
        }

        var ttl = directives.Ttl is { } asked && asked < settings.Ttl ? asked : settings.Ttl;
        if (directives.NoCache)
        {
            return new CacheLookup(key, null, Refresh: true, MayStore: true, ttl) { Bypassed = true };
        }

        var answer = await Store.GetOrCreateAsync<CachedAnswer?>(key, static _ => default, PeekOptions, null, cancellationToken).ConfigureAwait(false);
        var expired = answer is not null && answer.IsExpired(Now);
        return new CacheLookup(key, expired ? null : answer, Refresh: expired, MayStore: !directives.NoStore, ttl);
    }

    /// <summary>Options for the fetch of a missed answer: its lifetime, and for a refresh no reading of what is stored.</summary>
    public static HybridCacheEntryOptions FetchOptions(in CacheLookup lookup) => new()
    {
        Expiration = lookup.Ttl,
        LocalCacheExpiration = lookup.Ttl,
        Flags = lookup.Refresh ? HybridCacheEntryFlags.DisableLocalCacheRead | HybridCacheEntryFlags.DisableDistributedCacheRead : HybridCacheEntryFlags.None,
    };

    public void RecordHit()
    {
        Interlocked.Increment(ref _hits);
        _history.RecordCache(hit: true);
        _requests.Add(1, new KeyValuePair<string, object?>("aiproxy.cache.result", "hit"));
    }

    public void RecordMiss()
    {
        Interlocked.Increment(ref _misses);
        _history.RecordCache(hit: false);
        _requests.Add(1, new KeyValuePair<string, object?>("aiproxy.cache.result", "miss"));
    }

    public void Dispose() => _ownedMeter?.Dispose();
}
