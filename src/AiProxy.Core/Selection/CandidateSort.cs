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

    /// <summary>As <see cref="SortBy{TKey}"/> for scores, highest first, without a comparison delegate.</summary>
    public static void SortByDescending(Span<IProviderClient> candidates, Span<double> scores)
    {
        for (var i = 1; i < candidates.Length; i++)
        {
            var candidate = candidates[i];
            var score = scores[i];
            var j = i - 1;
            while (j >= 0 && scores[j] < score)
            {
                candidates[j + 1] = candidates[j];
                scores[j + 1] = scores[j];
                j--;
            }

            candidates[j + 1] = candidate;
            scores[j + 1] = score;
        }
    }

    /// <summary>Sorts a few values in place, ascending (the median of a handful of latencies).</summary>
    public static void Sort(Span<double> values)
    {
        for (var i = 1; i < values.Length; i++)
        {
            var value = values[i];
            var j = i - 1;
            while (j >= 0 && values[j] > value)
            {
                values[j + 1] = values[j];
                j--;
            }

            values[j + 1] = value;
        }
    }
}
