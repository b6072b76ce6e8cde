using AiProxy.Providers;

namespace AiProxy.Selection;

/// <summary>
/// Stable sort of a few candidates by precomputed keys, without allocating: an insertion sort, which for the
/// handful of providers a request has beats anything cleverer, and keeps the earlier (failover) order among equals.
/// </summary>
internal static class CandidateSort
{
    /// <summary>The most candidates whose keys a strategy keeps on the stack.</summary>
    public const int StackLimit = 64;

    public static void SortBy<TKey>(Span<IProviderClient> candidates, Span<TKey> keys, Comparison<TKey> compare)
    {
        for (var i = 1; i < candidates.Length; i++)
        {
            var candidate = candidates[i];
            var key = keys[i];
            var j = i - 1;
            while (j >= 0 && compare(keys[j], key) > 0)
            {
                candidates[j + 1] = candidates[j];
                keys[j + 1] = keys[j];
                j--;
            }

            candidates[j + 1] = candidate;
            keys[j + 1] = key;
        }
    }
}
