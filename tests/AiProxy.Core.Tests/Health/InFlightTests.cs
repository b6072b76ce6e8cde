using NUnit.Framework;

namespace AiProxy.Tests.Health;

/// <summary>Requests in flight are counted by the provider client, which owns the connections, not by health.</summary>
public sealed class InFlightTests
{
    [Test]
    public void The_provider_client_counts_requests_in_flight_and_its_snapshot_reports_them()
    {
        var providers = new StrategyTestProviders();
        using var provider = providers.Create("p");

        Assert.That(provider.TryEnterFlight(), Is.True);
        Assert.That(provider.TryEnterFlight(), Is.True);
        Assert.That(provider.InFlight, Is.EqualTo(2));
        Assert.That(provider.GetSnapshot().InFlight, Is.EqualTo(2));

        provider.LeaveFlight();

        Assert.That(provider.InFlight, Is.EqualTo(1));
        Assert.That(provider.GetSnapshot().InFlight, Is.EqualTo(1));
    }
}
