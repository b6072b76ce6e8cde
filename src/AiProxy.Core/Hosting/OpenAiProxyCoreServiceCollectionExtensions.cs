using System.ComponentModel;
using AiProxy;
using AiProxy.Hosting;
using AiProxy.Providers;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the gateway's framework-free services, for a host package (AiProxy.AspNetCore's <c>AddOpenAiProxy</c> calls it).</summary>
[EditorBrowsable(EditorBrowsableState.Advanced)]
public static class OpenAiProxyCoreServiceCollectionExtensions
{
    /// <summary>
    /// Adds everything from providers to usage records, and the <see cref="ProxyGateway"/> a host maps its routes onto. The
    /// options (<see cref="OpenAiProxyOptions"/>) are validated when the host starts; bind or configure them yourself. Every
    /// public service is added with TryAdd, so a host app may register its own first. Calling it twice adds nothing twice.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <returns>A builder for further gateway extensions.</returns>
    public static IOpenAiProxyBuilder AddOpenAiProxyCore(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        var builder = CoreServiceRegistration.AddCore(services);
        services.TryAddSingleton<CallerAuthentication>();
        services.TryAddSingleton<RequestBodyReader>();
        services.TryAddSingleton<AdminAccess>();
        services.TryAddSingleton<ProxyRequestHandler>();
        services.TryAddSingleton<ModelsEndpoint>();
        services.TryAddSingleton<CountTokensEndpoint>();
        services.TryAddSingleton<StatusEndpoint>();
        services.TryAddSingleton<StatusHistoryEndpoint>();
        services.TryAddSingleton<UsageEndpoint>();
        services.TryAddSingleton(static sp => new ProxyGateway(
            sp.GetRequiredService<ProxyRequestHandler>(),
            sp.GetRequiredService<ModelsEndpoint>(),
            sp.GetRequiredService<CountTokensEndpoint>(),
            sp.GetRequiredService<StatusEndpoint>(),
            sp.GetRequiredService<StatusHistoryEndpoint>(),
            sp.GetRequiredService<UsageEndpoint>(),
            sp.GetRequiredService<AdminAccess>(),
            sp.GetRequiredService<ProviderRegistry>(),
            sp.GetRequiredService<IOptionsMonitor<OpenAiProxyOptions>>()));
        return builder;
    }
}
