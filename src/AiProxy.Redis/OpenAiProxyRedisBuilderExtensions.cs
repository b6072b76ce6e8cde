using AiProxy;
using AiProxy.Budgets;
using AiProxy.Caching;
using AiProxy.Health;
using AiProxy.RateLimiting;
using AiProxy.Redis.Budgets;
using AiProxy.Redis.Caching;
using AiProxy.Redis;
using AiProxy.Redis.Connection;
using AiProxy.Redis.Health;
using AiProxy.Redis.RateLimiting;
using AiProxy.Redis.Usage;
using AiProxy.Usage;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Shares the gateway's state between instances through Redis.</summary>
public static class OpenAiProxyRedisBuilderExtensions
{
    /// <summary>
    /// Shares rate limits, provider cooldowns and usage counters between every gateway instance that uses the same Redis
    /// and <see cref="RedisOptions.KeyPrefix"/>: a limit of 30 requests per minute admits 30 across all of them, a provider
    /// one instance cools down is skipped by all within a second, and <c>/status</c> shows everyone's usage of the day.
    /// Each request makes one Redis round trip before it is forwarded. While Redis is unavailable the gateway keeps
    /// serving with its own in-memory state (<see cref="RedisFailMode.Open"/>, the default) or answers 503
    /// (<see cref="RedisFailMode.Closed"/>), and resumes sharing when Redis is back. Redis holds token names and counters,
    /// never a key.
    /// </summary>
    /// <param name="builder">The builder <c>AddOpenAiProxy</c> returned.</param>
    /// <param name="connectionString">A StackExchange.Redis configuration string, such as <c>127.0.0.1:6379</c> or
    /// <c>redis.internal:6380,password=...,ssl=true</c>. The gateway connects when the host starts and owns the connection.</param>
    /// <param name="configure">Adjusts the options (key prefix, timeout, fail mode...).</param>
    /// <returns>The same builder.</returns>
    public static IOpenAiProxyBuilder AddRedis(this IOpenAiProxyBuilder builder, string connectionString, Action<RedisOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        var configuration = ConfigurationOptions.Parse(connectionString);

        // Start even when Redis is down: the gateway then serves in its fail mode and the client keeps reconnecting.
        configuration.AbortOnConnectFail = false;
        return AddRedisCore(builder, async () => await ConnectionMultiplexer.ConnectAsync(configuration).ConfigureAwait(false), ownsConnection: true, configure);
    }

    /// <summary>
    /// Shares rate limits, provider cooldowns and usage counters through a connection the host app already has (and keeps
    /// owning). See <see cref="AddRedis(IOpenAiProxyBuilder, string, Action{RedisOptions}?)"/>.
    /// </summary>
    /// <param name="builder">The builder <c>AddOpenAiProxy</c> returned.</param>
    /// <param name="connection">The host app's connection; the gateway uses its default database and never disposes it.</param>
    /// <param name="configure">Adjusts the options (key prefix, timeout, fail mode...).</param>
    /// <returns>The same builder.</returns>
    public static IOpenAiProxyBuilder AddRedis(this IOpenAiProxyBuilder builder, IConnectionMultiplexer connection, Action<RedisOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(connection);
        return AddRedisCore(builder, () => Task.FromResult(connection), ownsConnection: false, configure);
    }

    private static IOpenAiProxyBuilder AddRedisCore(
        IOpenAiProxyBuilder builder, Func<Task<IConnectionMultiplexer>> connect, bool ownsConnection, Action<RedisOptions>? configure)
    {
        var services = builder.Services;
        var options = services.AddOptions<RedisOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<RedisOptions>, RedisOptionsValidator>());
        services.TryAddSingleton(sp => new RedisConnection(
            connect, ownsConnection, sp.GetRequiredService<IOptions<RedisOptions>>(), sp.GetRequiredService<ILogger<RedisConnection>>(), sp.GetRequiredService<TimeProvider>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ISharedStateStatus, RedisConnection>(sp => sp.GetRequiredService<RedisConnection>()));

        services.TryAddSingleton<RedisProxyRateLimiter>();
        services.Replace(ServiceDescriptor.Singleton<IProxyRateLimiter>(sp => sp.GetRequiredService<RedisProxyRateLimiter>()));

        services.TryAddSingleton<RedisUsageStore>();
        services.Replace(ServiceDescriptor.Singleton<IProxyUsageStore>(sp => sp.GetRequiredService<RedisUsageStore>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IProxyUsageObserver, RedisUsageStore>(sp => sp.GetRequiredService<RedisUsageStore>()));

        services.TryAddSingleton<RedisProxyBudgetStore>();
        services.Replace(ServiceDescriptor.Singleton<IProxyBudgetStore>(sp => sp.GetRequiredService<RedisProxyBudgetStore>()));

        services.TryAddSingleton<RedisProviderHealthSync>();

        // The response cache's distributed tier, under its own key: instances share cached answers.
        services.TryAddKeyedSingleton<IDistributedCache>(ResponseCacheServiceKeys.DistributedCache, (sp, _) => new RedisAnswerStore(sp.GetRequiredService<RedisConnection>()));

        // The limiter registers its scripts' warm-up with the connection, so it is created before the connection starts.
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, RedisConnection>(sp =>
        {
            sp.GetRequiredService<RedisProxyRateLimiter>();
            return sp.GetRequiredService<RedisConnection>();
        }));
        // Stopped before the connection closes: quota leasing gives back what its slices hold then.
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, RedisProxyRateLimiter>(sp => sp.GetRequiredService<RedisProxyRateLimiter>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, RedisProviderHealthSync>(sp => sp.GetRequiredService<RedisProviderHealthSync>()));
        return builder;
    }
}
