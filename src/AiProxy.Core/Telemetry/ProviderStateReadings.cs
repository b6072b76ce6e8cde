using System.Diagnostics.Metrics;
using AiProxy.Health;
using AiProxy.Providers;

namespace AiProxy.Telemetry;

/// <summary>
/// The measurements of <c>aiproxy.provider.state</c>, read from the registry when a listener collects: 1 for each
/// provider's current state, 0 for the others, so a dashboard can plot each state as a series.
/// </summary>
internal sealed class ProviderStateReadings(ProviderRegistry registry)
{
    public IEnumerable<Measurement<int>> Read()
    {
        var providers = registry.All;
        var measurements = new List<Measurement<int>>(providers.Length * ProviderHealthStateNames.All.Length);
        foreach (var provider in providers)
        {
            var current = ProviderHealthStateNames.Get(provider.GetSnapshot().State, provider.Enabled);
            foreach (var state in ProviderHealthStateNames.All)
            {
                measurements.Add(new Measurement<int>(
                    state == current ? 1 : 0,
                    new KeyValuePair<string, object?>(TelemetryConsts.GenAI.ProviderName, provider.Name),
                    new KeyValuePair<string, object?>(TelemetryConsts.Proxy.State, state)));
            }
        }

        return measurements;
    }
}
