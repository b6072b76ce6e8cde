using AiProxy.Configuration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace AiProxy.Tests;

/// <summary>Builds the Core services over in-memory configuration, the way a host app does.</summary>
internal static class ProxyServices
{
    /// <summary>A minimal valid configuration: one provider named <c>x</c>.</summary>
    public static Dictionary<string, string?> ValidSettings() => new()
    {
        ["OpenAiProxy:Providers:x:BaseUrl"] = "http://127.0.0.1:1/v1",
    };

    /// <summary>
    /// Builds a provider. <paramref name="environment"/> stands in for the process environment, so that a real
    /// <c>OPENAI_PROXY_*</c> variable on the test machine cannot leak in; it is registered before <c>AddCore</c>,
    /// whose <c>TryAddEnumerable</c> then skips the default.
    /// </summary>
    public static ServiceProvider Build(
        IDictionary<string, string?> settings,
        IDictionary<string, string>? environment = null,
        Action<IOpenAiProxyBuilder>? configure = null)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton<IPostConfigureOptions<OpenAiProxyOptions>>(
            new EnvironmentOverrides(name => environment is not null && environment.TryGetValue(name, out var value) ? value : null));
        services.AddOptions<OpenAiProxyOptions>().Bind(configuration.GetSection(OpenAiProxyOptions.SectionName));
        var builder = CoreServiceRegistration.AddCore(services);
        configure?.Invoke(builder);
        return services.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true, ValidateOnBuild = true });
    }

    public static Dictionary<string, string?> With(this Dictionary<string, string?> settings, string key, string? value)
    {
        settings[key] = value;
        return settings;
    }
}
