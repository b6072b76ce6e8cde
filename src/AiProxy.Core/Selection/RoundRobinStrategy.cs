using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using AiProxy.Providers;

namespace AiProxy.Selection;

/// <summary>
/// <c>round_robin</c>: a per-model counter, taken modulo the current candidate count, rotates the candidates
/// in their failover order. Deterministic: with N candidates every N requests visit each once, and after one
/// candidate drops out the rest alternate exactly.
/// </summary>
internal sealed class RoundRobinStrategy : ISelectionStrategy
{
    // Bounded, so that a flood of distinct model names cannot grow it without end.
    private const int MaxTrackedModels = 4096;
    private readonly ConcurrentDictionary<string, StrongBox<long>> _counters = new(StringComparer.Ordinal);
    private readonly StrongBox<long> _overflow = new();

    public string Name => SelectionStrategyNames.RoundRobin;

    public void Order(string model, Span<IProviderClient> candidates)
    {
        if (candidates.Length == 0)
        {
            return;
        }

        FailoverStrategy.SortByPriority(candidates);
        var counter = GetCounter(model);
        var turn = Interlocked.Increment(ref counter.Value) - 1;
        var shift = (int)(turn % candidates.Length);
        if (shift != 0)
        {
            // Rotate left by shift: reverse both parts, then the whole.
            candidates[..shift].Reverse();
            candidates[shift..].Reverse();
            candidates.Reverse();
        }
    }

    private StrongBox<long> GetCounter(string model)
    {
        if (_counters.TryGetValue(model, out var counter))
        {
            return counter;
        }

        return _counters.Count >= MaxTrackedModels ? _overflow : _counters.GetOrAdd(model, static _ => new StrongBox<long>());
    }
}
