using AiProxy.AspNetCore.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds the gateway's health check to ASP.NET Core health checks.</summary>
public static class OpenAiProxyHealthChecksBuilderExtensions
{
    /// <summary>The default name of the gateway's health check: <c>aiproxy</c>.</summary>
    public const string DefaultName = "aiproxy";

    /// <summary>
    /// Adds a check of the gateway's providers: <see cref="HealthStatus.Healthy"/> when every enabled provider takes
    /// traffic, <see cref="HealthStatus.Degraded"/> when some are cooling down after failures, and
    /// <paramref name="failureStatus"/> (default <see cref="HealthStatus.Unhealthy"/>) when all are cooling down or none
    /// is enabled. The result's data names each provider's state; it never holds a key or URL. The check reads the
    /// gateway's state and sends nothing upstream, so it suits Kubernetes probes through <c>MapHealthChecks</c>.
    /// Needs <c>AddOpenAiProxy</c> on the same service collection.
    /// </summary>
    /// <param name="builder">The health checks builder from <c>services.AddHealthChecks()</c>.</param>
    /// <param name="name">The check's name. Default <c>aiproxy</c>.</param>
    /// <param name="failureStatus">The status reported when no provider is available. Default <see cref="HealthStatus.Unhealthy"/>.</param>
    /// <param name="tags">Tags to filter checks by, for example <c>ready</c>.</param>
    /// <returns>The builder, for chaining.</returns>
    public static IHealthChecksBuilder AddOpenAiProxy(
        this IHealthChecksBuilder builder, string name = DefaultName, HealthStatus? failureStatus = null, IEnumerable<string>? tags = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return builder.AddCheck<OpenAiProxyHealthCheck>(name, failureStatus ?? HealthStatus.Unhealthy, tags ?? []);
    }
}
