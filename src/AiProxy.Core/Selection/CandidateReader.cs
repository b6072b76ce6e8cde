using System.Runtime.CompilerServices;
using AiProxy.Health;
using AiProxy.Providers;

namespace AiProxy.Selection;

/// <summary>
/// Reads the numbers a strategy needs of each candidate, once: lock-free for the gateway's own providers, with the
/// clock read once for all. On the way it notes whether the candidates came in failover order (as the selector hands
/// them over), which spares the strategies a separate pass to check.
/// </summary>
internal ref struct CandidateReader
{
    /// <summary>The rank noted once a candidate was out of failover order or had no rank.</summary>
    private const int Unordered = int.MaxValue;

    private long _epoch;
    private int _rank = -1;

    public CandidateReader()
    {
    }

    /// <summary>Whether every candidate read so far was a registered provider ranked after the one before it. When not,
    /// the order is unknown rather than wrong: <see cref="FailoverStrategy.SortByPriority"/> decides.</summary>
    public readonly bool InFailoverOrder => _rank != Unordered;

    /// <summary>The next candidate's numbers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ProviderHealth.SelectionView Read(IProviderClient provider)
    {
        if (provider is ProviderClient client)
        {
            var rank = client.FailoverRank;
            _rank = rank > _rank ? rank : Unordered; // nothing is above Unordered: once there, it stays
            var health = client.Health;
            if (_epoch == 0)
            {
                _epoch = health.CurrentEpoch();
            }

            return health.View(_epoch, client.InFlight);
        }

        _rank = Unordered;
        return Snapshot(provider);
    }

    /// <summary>A host app's own <see cref="IProviderClient"/>: its snapshot. Kept out of <see cref="Read"/> so that the
    /// snapshot's locals do not cost the gateway's own providers a larger stack frame on every read.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static ProviderHealth.SelectionView Snapshot(IProviderClient provider)
    {
        var snapshot = provider.GetSnapshot();
        return new ProviderHealth.SelectionView(snapshot.InFlight, snapshot.RecentRequests, snapshot.RecentFailures, snapshot.LatencyEwma?.Ticks ?? -1);
    }
}
