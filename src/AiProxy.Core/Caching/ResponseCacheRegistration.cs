using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace AiProxy.Caching;

/// <summary>Registers the response cache: its own keyed <see cref="HybridCache"/> (never the host app's), whose distributed
/// tier is whatever is registered under the same key (Redis, with <c>AddRedis</c>), and the binary form of answers.</summary>
internal static class ResponseCacheRegistration
{
    public static void Add(IServiceCollection services)
    {
        if (services.Any(d => d.ServiceType == typeof(ResponseCache)))
        {
            return;
        }

        services.TryAddSingleton<ResponseCache>();
        services.TryAddSingleton<CachedExchange>();
        services.AddOptions<HybridCacheOptions>(ResponseCache.ServiceKey).Configure<IServiceProvider>((options, provider) =>
        {
            // A distributed tier only when one is registered under the cache's key (AddRedis does).
            if (provider.GetService<IServiceProviderIsKeyedService>()?.IsKeyedService(typeof(IDistributedCache), ResponseCache.ServiceKey) == true)
            {
                options.DistributedCacheServiceKey = ResponseCache.ServiceKey;
            }
        });
        services.AddKeyedHybridCache(ResponseCache.ServiceKey, options =>
        {
            // Cache:MaxEntryBytes bounds what is recorded (and may change at run time); this only bounds what is read back.
            options.MaximumPayloadBytes = 1L << 30;
            options.DisableCompression = true;
        }).AddSerializer<CachedAnswer, CachedAnswerSerializer>();
    }
}
