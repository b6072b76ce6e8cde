using AiProxy.Health;
using AiProxy.Providers;

namespace AiProxy.Selection;

/// <summary>The numbers a strategy reads of a candidate: lock-free for the gateway's own providers.</summary>
internal static class CandidateView
{
    /// <param name="provider">The candidate.</param>
    /// <param name="epoch">The clock's window bucket, read on first use and passed on to the next candidate (0 to start).</param>
    public static ProviderHealth.SelectionView Of(IProviderClient provider, ref long epoch)
    {
        if (provider is ProviderClient client)
        {
            if (epoch == 0)
            {
                epoch = client.Health.CurrentEpoch();
            }

            return client.Health.View(epoch);
        }

        var snapshot = provider.GetSnapshot();
        return new ProviderHealth.SelectionView(
            snapshot.InFlight, snapshot.RecentRequests, snapshot.RecentFailures, snapshot.LatencyEwma?.Ticks ?? -1);
    }
}
