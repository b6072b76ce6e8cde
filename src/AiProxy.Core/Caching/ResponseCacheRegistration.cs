using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace AiProxy.Caching;

/// <summary>Registers the response cache: its own keyed <see cref="HybridCache"/>, built with its own bounded memory in a
/// private service provider (<see cref="ResponseCacheStore"/>), so that nothing is added to or taken from the host app's
/// caches; its distributed tier is whatever is registered under the same key (Redis, with <c>AddRedis</c>).</summary>
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
        services.TryAddSingleton<ResponseCacheStore>();
        services.TryAddKeyedSingleton<HybridCache>(ResponseCache.ServiceKey, static (provider, _) => provider.GetRequiredService<ResponseCacheStore>().Cache);
    }
}
