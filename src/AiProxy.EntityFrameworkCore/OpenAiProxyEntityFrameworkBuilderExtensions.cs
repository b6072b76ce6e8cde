using AiProxy;
using AiProxy.EntityFrameworkCore;
using AiProxy.EntityFrameworkCore.Admin;
using AiProxy.EntityFrameworkCore.Data;
using AiProxy.EntityFrameworkCore.Tokens;
using AiProxy.EntityFrameworkCore.Usage;
using AiProxy.Tokens;
using AiProxy.Usage;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Keeps proxy tokens, the admin audit trail and daily usage in a database through EF Core.</summary>
public static class OpenAiProxyEntityFrameworkBuilderExtensions
{
    /// <summary>
    /// Serves proxy tokens from a database beside the configured ones, so that an operator can create, limit, rotate and
    /// revoke keys at run time through the admin API (<c>MapOpenAiProxyAdmin</c>). Keys are stored only as SHA-256
    /// digests and a display prefix (<c>sk-...abcd</c>). Requests never wait on the database: tokens are served from a
    /// snapshot in memory, reloaded at once after a change on this instance and within
    /// <see cref="ProxyStorageOptions.PollInterval"/> on the others, which read a version row. Usage is added to a daily
    /// table for <c>GET /admin/usage</c>. The migrations for SQLite and PostgreSQL ship with the package and are applied
    /// at start as <see cref="ProxyStorageOptions.MigrateOnStart"/> says.
    /// </summary>
    /// <param name="builder">The builder <c>AddOpenAiProxy</c> returned.</param>
    /// <param name="configureDatabase">Chooses the database: <c>options.UseSqlite("Data Source=aiproxy.db")</c> or
    /// <c>options.UseNpgsql(connectionString)</c>. Called once per provider check and once to build the options.</param>
    /// <param name="configure">Adjusts the store's options; bind <c>OpenAiProxy:Storage</c> here to use configuration.</param>
    /// <returns>The same builder.</returns>
    /// <exception cref="InvalidOperationException">The database is neither SQLite nor PostgreSQL (thrown when the store is first resolved).</exception>
    public static IOpenAiProxyBuilder AddEntityFrameworkStore(
        this IOpenAiProxyBuilder builder, Action<DbContextOptionsBuilder> configureDatabase, Action<ProxyStorageOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configureDatabase);
        var services = builder.Services;
        var options = services.AddOptions<ProxyStorageOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ProxyStorageOptions>, ProxyStorageOptionsValidator>());
        services.TryAddSingleton(sp => new ProxyStoreContextFactory(configureDatabase, sp.GetService<ILoggerFactory>()));
        services.TryAddSingleton<StoredTokenSnapshot>();
        services.TryAddSingleton<StoredTokenRefresher>();
        services.TryAddSingleton<DailyUsageWriter>();
        services.TryAddSingleton<AdminAuthentication>();
        services.TryAddSingleton<TokenAdministration>();
        services.TryAddSingleton<UsageReport>();
        services.TryAddSingleton<AdminEndpoints>();

        // The stored tokens go behind whatever store was registered before (the configured tokens, normally), which keeps
        // answering first: a configured token can never be shadowed.
        var configured = services.LastOrDefault(d => d.ServiceType == typeof(IProxyTokenStore));
        if (configured is not null && !services.Any(d => d.ServiceType == typeof(StoredTokenStoreMarker)))
        {
            services.Remove(configured);
            services.AddSingleton<IProxyTokenStore>(sp => new StoredTokenStore(
                Resolve(sp, configured), sp.GetRequiredService<StoredTokenSnapshot>(), sp.GetRequiredService<IOptionsMonitor<OpenAiProxyOptions>>()));
            services.AddSingleton<StoredTokenStoreMarker>();
        }

        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, StoredTokenRefresher>(sp => sp.GetRequiredService<StoredTokenRefresher>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, DailyUsageWriter>(sp => sp.GetRequiredService<DailyUsageWriter>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IProxyUsageObserver, DailyUsageWriter>(sp => sp.GetRequiredService<DailyUsageWriter>()));
        return builder;
    }

    private static IProxyTokenStore Resolve(IServiceProvider services, ServiceDescriptor descriptor)
        => (IProxyTokenStore)(descriptor.ImplementationInstance
            ?? descriptor.ImplementationFactory?.Invoke(services)
            ?? ActivatorUtilities.GetServiceOrCreateInstance(services, descriptor.ImplementationType!));
}
