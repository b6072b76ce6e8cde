using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AiProxy.Caching;

/// <summary>
/// Owns the response cache's <see cref="HybridCache"/> and the memory it keeps answers in. HybridCache takes its memory tier
/// from the service provider it is built in, so it is built in a private one holding a <see cref="MemoryCache"/> of its own,
/// bounded by <c>Cache:MaxMemoryBytes</c> (each answer counted by its stored size): the host app's
/// <see cref="IMemoryCache"/> is neither used nor registered, and past the bound older answers are evicted instead of
/// memory growing. The distributed tier, if any, is the <see cref="IDistributedCache"/> registered under
/// <see cref="ResponseCache.ServiceKey"/> (<c>AddRedis</c>). Built on first use; the bound is read then.
/// </summary>
internal sealed class ResponseCacheStore : IDisposable
{
    private readonly ServiceProvider _inner;
    private readonly MemoryCache _memory;

    public ResponseCacheStore(IServiceProvider host, IOptions<OpenAiProxyOptions> options)
    {
        MemoryLimit = options.Value.Cache.MaxMemoryBytes;
        var inner = new ServiceCollection();
        inner.AddSingleton(host.GetService<TimeProvider>() ?? TimeProvider.System);
        if (host.GetService<ILoggerFactory>() is { } loggers)
        {
            inner.AddSingleton(loggers);
        }

        if (host.GetKeyedService<IDistributedCache>(ResponseCache.ServiceKey) is { } distributed)
        {
            inner.AddSingleton(distributed);
        }

        inner.AddMemoryCache(memory =>
        {
            memory.SizeLimit = MemoryLimit;
            memory.TrackStatistics = true;
        });
        inner.AddHybridCache(hybrid =>
        {
            // Cache:MaxEntryBytes bounds what is recorded (and may change at run time); this only bounds what is read back.
            hybrid.MaximumPayloadBytes = 1L << 30;
            hybrid.DisableCompression = true;
        }).AddSerializer<CachedAnswer, CachedAnswerSerializer>();
        _inner = inner.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
        _memory = (MemoryCache)_inner.GetRequiredService<IMemoryCache>();
        Cache = _inner.GetRequiredService<HybridCache>();
    }

    public HybridCache Cache { get; }

    /// <summary>The bound on the answers kept in memory, in bytes (<c>Cache:MaxMemoryBytes</c> when the cache was built).</summary>
    public long MemoryLimit { get; }

    /// <summary>The bytes of answers in memory now (their stored size) and how many answers that is.</summary>
    public (long Bytes, long Entries) MemoryUse()
    {
        var statistics = _memory.GetCurrentStatistics();
        return (statistics?.CurrentEstimatedSize ?? 0, statistics?.CurrentEntryCount ?? _memory.Count);
    }

    public void Dispose() => _inner.Dispose();
}
