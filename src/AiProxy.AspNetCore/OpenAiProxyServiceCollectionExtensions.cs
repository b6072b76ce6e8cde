using AiProxy;
using AiProxy.AspNetCore.Dashboard;
using AiProxy.AspNetCore.Endpoints;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the AiProxy gateway.</summary>
public static class OpenAiProxyServiceCollectionExtensions
{
    /// <summary>Adds the gateway with options bound from <paramref name="configuration"/> (normally the
    /// <c>OpenAiProxy</c> section) and validated when the host starts. Changes to that configuration apply without a restart.</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configuration">The configuration section to bind.</param>
    /// <returns>A builder for further gateway extensions.</returns>
    public static IOpenAiProxyBuilder AddOpenAiProxy(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<OpenAiProxyOptions>().Bind(configuration);
        return AddCore(services);
    }

    /// <summary>Adds the gateway with options set in code, validated when the host starts.</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Sets the options.</param>
    /// <returns>A builder for further gateway extensions.</returns>
    public static IOpenAiProxyBuilder AddOpenAiProxy(this IServiceCollection services, Action<OpenAiProxyOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.Configure(configure);
        return AddCore(services);
    }

    /// <summary>Adds the gateway with options bound from <paramref name="configuration"/> and then adjusted in code.</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configuration">The configuration section to bind.</param>
    /// <param name="configure">Adjusts the bound options.</param>
    /// <returns>A builder for further gateway extensions.</returns>
    public static IOpenAiProxyBuilder AddOpenAiProxy(this IServiceCollection services, IConfiguration configuration, Action<OpenAiProxyOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        var builder = services.AddOpenAiProxy(configuration);
        services.Configure(configure);
        return builder;
    }

    private static IOpenAiProxyBuilder AddCore(IServiceCollection services)
    {
        var builder = services.AddOpenAiProxyCore();
        services.TryAddSingleton<DashboardAssets>();
        services.TryAddSingleton<DashboardEndpoints>();
        services.TryAddSingleton<OpenAiProxyMarker>();
        return builder;
    }
}
