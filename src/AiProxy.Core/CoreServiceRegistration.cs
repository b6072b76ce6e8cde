using AiProxy.Attempts;
using AiProxy.Budgets;
using AiProxy.Caching;
using AiProxy.Configuration;
using AiProxy.Health;
using AiProxy.History;
using AiProxy.Mapping;
using AiProxy.Pipeline;
using AiProxy.Pricing;
using AiProxy.Protocols;
using AiProxy.Providers;
using AiProxy.RateLimiting;
using AiProxy.Selection;
using AiProxy.Telemetry;
using AiProxy.Tokens;
using AiProxy.Usage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace AiProxy;

/// <summary>Registers the framework-free part of the gateway. Public services are added with TryAdd so host apps can replace them.</summary>
internal static class CoreServiceRegistration
{
    public static IOpenAiProxyBuilder AddCore(IServiceCollection services)
    {
        services.AddOptions<OpenAiProxyOptions>().ValidateDataAnnotations().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IPostConfigureOptions<OpenAiProxyOptions>, EnvironmentOverrides>(_ => new EnvironmentOverrides()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<OpenAiProxyOptions>, OpenAiProxyOptionsValidator>());

        // Closed over this one options type, it wins over the framework's open-generic monitor.
        services.TryAddSingleton<IOptionsMonitor<OpenAiProxyOptions>, LiveOptions>();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<ModelMappingService>();
        services.TryAddSingleton<IModelMappingService>(sp => sp.GetRequiredService<ModelMappingService>());
        services.TryAddSingleton<ProviderRegistry>();
        services.TryAddSingleton(sp => new ProviderCooldowns(sp.GetRequiredService<ProviderRegistry>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ISelectionStrategy, FailoverStrategy>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ISelectionStrategy, RoundRobinStrategy>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ISelectionStrategy, RandomStrategy>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ISelectionStrategy, LeastUsedStrategy>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ISelectionStrategy, BestPerformanceStrategy>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ISelectionStrategy, WeightedScoreStrategy>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ISelectionStrategy, LowestCostStrategy>(
            sp => new LowestCostStrategy(() => sp.GetRequiredService<RequestPricing>())));
        services.TryAddSingleton(new SelectionRandom());
        services.TryAddSingleton<ClientSelector>();
        services.TryAddSingleton<IClientSelector>(sp => sp.GetRequiredService<ClientSelector>());
        services.TryAddSingleton<ProxyTokenValidator>();
        services.TryAddSingleton<IProxyTokenStore>(sp => sp.GetRequiredService<ProxyTokenValidator>());
        services.TryAddSingleton<ProxyTokenAuthenticator>();
        services.TryAddSingleton<InMemoryProxyRateLimiter>();
        services.TryAddSingleton<IProxyRateLimiter>(sp => sp.GetRequiredService<InMemoryProxyRateLimiter>());
        services.TryAddSingleton<ProviderModelMapper>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IProviderProtocol, OpenAiProtocol>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IProviderProtocol, Protocols.Anthropic.AnthropicProtocol>());
        services.TryAddSingleton<ProviderProtocols>();
        services.TryAddSingleton(new RetryBackoff());
        services.TryAddSingleton<ProxyDispatcher>();
        services.TryAddSingleton<ProxyAdmission>();
        services.TryAddSingleton<IModelPriceProvider, ConfiguredModelPrices>();
        services.TryAddSingleton<RequestPricing>();
        services.TryAddSingleton<InMemoryProxyBudgetStore>();
        services.TryAddSingleton<IProxyBudgetStore>(sp => sp.GetRequiredService<InMemoryProxyBudgetStore>());
        services.TryAddSingleton<ProxyBudgets>();
        services.TryAddSingleton<ProxyExchange>();
        ResponseCacheRegistration.Add(services);
        services.TryAddSingleton<ModelTagResolver>();
        services.TryAddSingleton<ProviderStateReadings>();
        services.TryAddSingleton<ProxyMetrics>();

        // The pipeline's observers, in the order they hear of each event: metrics, tracing, the dashboard's history, then
        // the usage records.
        services.TryAddSingleton<HostShutdown>();
        services.TryAddSingleton<ProxyExchangeEvents>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IProxyExchangeObserver, MetricsObserver>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IProxyExchangeObserver, TracingObserver>());
        services.TryAddSingleton<RequestHistory>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IProxyExchangeObserver, RequestHistory>(sp => sp.GetRequiredService<RequestHistory>()));
        services.TryAddSingleton<UsageReporter>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IProxyExchangeObserver, UsageReporter>(sp => sp.GetRequiredService<UsageReporter>()));
        services.TryAddSingleton(sp => new InMemoryProxyUsageStore(sp.GetRequiredService<ModelTagResolver>(), sp.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton<IProxyUsageStore>(sp => sp.GetRequiredService<InMemoryProxyUsageStore>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IProxyUsageObserver, InMemoryProxyUsageStore>(sp => sp.GetRequiredService<InMemoryProxyUsageStore>()));
        services.TryAddSingleton<ModelCatalog>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, ModelDiscoveryService>());
        return new OpenAiProxyBuilder(services);
    }
}
