using AiProxy.Health;
using AiProxy.Hosting;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace AiProxy.AspNetCore.HealthChecks;

/// <summary>
/// The gateway's health from its providers' circuit state: healthy when every enabled provider takes traffic,
/// degraded when some are cooling down, unhealthy (the registration's failure status) when all are cooling down
/// or none is enabled. Half-open providers count as up: their next request is their trial. Reads state only; it
/// sends nothing to a provider. A shared-state store (Redis) that is unreachable makes it degraded when the gateway falls
/// back to local state, or the failure status when it fails closed.
/// </summary>
internal sealed class OpenAiProxyHealthCheck(ProxyGateway gateway, IEnumerable<ISharedStateStatus> sharedState) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        var data = new Dictionary<string, object>(StringComparer.Ordinal);
        int enabled = 0, cooling = 0;
        foreach (var provider in gateway.Providers)
        {
            if (!provider.Enabled)
            {
                data[provider.Name] = ProviderHealthStateNames.Disabled;
                continue;
            }

            enabled++;
            var state = provider.GetSnapshot().State;
            if (state == ProviderHealthState.Cooldown)
            {
                cooling++;
            }

            data[provider.Name] = ProviderHealthStateNames.Get(state);
        }

        var result = enabled == 0
            ? new HealthCheckResult(context.Registration.FailureStatus, "No provider is enabled.", data: data)
            : cooling == enabled
                ? new HealthCheckResult(context.Registration.FailureStatus, $"All {enabled} enabled providers are cooling down.", data: data)
                : cooling > 0
                    ? HealthCheckResult.Degraded($"{cooling} of {enabled} enabled providers are cooling down.", data: data)
                    : HealthCheckResult.Healthy($"{enabled} enabled providers take traffic.", data);
        foreach (var store in sharedState)
        {
            data["shared:" + store.Name] = store.IsAvailable ? "available" : "unavailable"; // prefixed: a provider may be named "redis"
            if (!store.IsAvailable && result.Status != context.Registration.FailureStatus)
            {
                result = store.FailsClosed
                    ? new HealthCheckResult(context.Registration.FailureStatus, $"{store.Name} is unreachable: requests are refused.", data: data)
                    : HealthCheckResult.Degraded($"{store.Name} is unreachable: limits, cooldowns and usage are this instance's own. {result.Description}", data: data);
            }
        }

        return Task.FromResult(result);
    }
}
