using AiProxy.Health;
using AiProxy.Mapping;
using AiProxy.Providers;
using Microsoft.Extensions.Time.Testing;

namespace AiProxy.Tests;

/// <summary>Providers with health states set by hand, on a fake clock; no traffic is ever sent.</summary>
internal sealed class StrategyTestProviders
{
    private readonly ModelMappingService _mappings = new(new TestOptionsMonitor<OpenAiProxyOptions>(new OpenAiProxyOptions()));

    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 11, 26, 8, 0, 0, TimeSpan.Zero));

    /// <summary>Thresholds no strategy test reaches: failures change success rates, never health states.</summary>
    public HealthOptions Health { get; } = new() { ConsecutiveFailures = 1000, MinimumRequests = 1000 };

    public ProviderClient Create(string name, double weight = 1, int priority = 0)
    {
        var options = new ProviderOptions { BaseUrl = "http://127.0.0.1:1/v1", Weight = weight, Priority = priority };
        return new ProviderClient(name, options, _mappings, health: new ProviderHealth(Time, () => Health));
    }

    /// <summary>Gives a provider a latency EWMA of exactly <paramref name="latency"/> with <paramref name="failures"/> of <paramref name="requests"/> failed.</summary>
    public static void Measure(ProviderClient provider, TimeSpan latency, int requests = 1, int failures = 0)
    {
        for (var i = 0; i < requests - failures; i++)
        {
            provider.Health.RecordSuccess(latency);
        }

        for (var i = 0; i < failures; i++)
        {
            provider.Health.RecordFailure(FailureKind.Status, "503");
        }
    }
}
