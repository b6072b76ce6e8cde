using System.Collections.Concurrent;

namespace AiProxy.Budgets;

/// <summary>
/// The default <see cref="IProxyBudgetStore"/>: spend per budget key in this process, lost on restart. Each key has its own
/// lock, so a caller's check and reservation are one step. Keys of periods that have ended are dropped by an occasional
/// sweep (a new period is a new key, so nothing reads them again). A store shared between instances (<c>AiProxy.Redis</c>'s)
/// falls back to it while the shared store is unreachable; resolve it from the container (<c>AddOpenAiProxy</c> registers it).
/// </summary>
/// <param name="time">The clock that tells when a period's keys may be dropped.</param>
public sealed class InMemoryProxyBudgetStore(TimeProvider time) : IProxyBudgetStore
{
    private const int SweepEvery = 1024;

    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private int _calls;

    /// <summary>Budget keys held, for tests.</summary>
    internal int Count => _entries.Count;

    /// <inheritdoc/>
    public ValueTask<ProxyBudgetDecision> ReserveAsync(ProxyBudgetRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (Interlocked.Increment(ref _calls) % SweepEvery == 0)
        {
            Sweep();
        }

        var admitted = true;
        var committed = 0m;
        if (request.Caller is { } caller)
        {
            var entry = Get(caller);
            lock (entry)
            {
                committed = entry.Spent + entry.Reserved;
                admitted = committed + request.CallerCost <= caller.Amount;
                if (admitted)
                {
                    entry.Reserved += request.CallerCost;
                    committed += request.CallerCost;
                }
            }
        }

        var providers = request.Providers;
        var available = providers.Count == 0 ? [] : new bool[providers.Count];
        for (var i = 0; i < providers.Count; i++)
        {
            var (budget, cost) = providers[i];
            if (!_entries.TryGetValue(budget.Key, out var entry))
            {
                available[i] = cost <= budget.Amount;
                continue;
            }

            lock (entry)
            {
                available[i] = entry.Spent + entry.Reserved + cost <= budget.Amount;
            }
        }

        return ValueTask.FromResult(new ProxyBudgetDecision(admitted, committed, available));
    }

    /// <inheritdoc/>
    public ValueTask SettleAsync(ProxyBudget budget, decimal reserved, decimal actual, CancellationToken cancellationToken)
    {
        var entry = Get(budget);
        lock (entry)
        {
            entry.Reserved = Math.Max(0, entry.Reserved - reserved);
            entry.Spent += Math.Max(0, actual);
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc/>
    public ValueTask<ProxyBudgetSpend> GetSpendAsync(string key, CancellationToken cancellationToken)
    {
        if (!_entries.TryGetValue(key, out var entry))
        {
            return ValueTask.FromResult(default(ProxyBudgetSpend));
        }

        lock (entry)
        {
            return ValueTask.FromResult(new ProxyBudgetSpend(entry.Spent, entry.Reserved));
        }
    }

    private Entry Get(ProxyBudget budget) => _entries.GetOrAdd(budget.Key, static (_, end) => new Entry(end), budget.ResetsAt);

    internal void Sweep()
    {
        var now = time.GetUtcNow();
        foreach (var (key, entry) in _entries)
        {
            // A day's grace: a request admitted just before the period ended still settles into its own key.
            if (entry.ResetsAt is { } end && end.AddDays(1) < now)
            {
                _entries.TryRemove(new KeyValuePair<string, Entry>(key, entry));
            }
        }
    }

    private sealed class Entry(DateTimeOffset? resetsAt)
    {
        public DateTimeOffset? ResetsAt { get; } = resetsAt;

        public decimal Spent { get; set; }

        public decimal Reserved { get; set; }
    }
}
