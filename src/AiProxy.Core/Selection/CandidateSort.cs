using AiProxy.Providers;

namespace AiProxy.Selection;

/// <summary>
/// Stable sort of a few candidates by keys read once, without allocating. The strategies sort positions
/// (<c>order[k]</c> = where the candidate now at <c>k</c> came from) and move the candidates once at the end: every
/// store of a reference into the candidates' array pays a GC write barrier, a store of an <see langword="int"/> on the
/// stack does not. An insertion sort, which for the handful of providers a request has beats anything cleverer, and
/// keeps the earlier (failover) order among equals.
/// </summary>
internal static class CandidateSort
{
    /// <summary>The most candidates whose keys a strategy keeps on the stack.</summary>
    public const int StackLimit = 64;

    /// <summary>Writes 0, 1, 2... into <paramref name="order"/>: every candidate where it is.</summary>
    public static void Identity(Span<int> order)
    {
        for (var i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }
    }

    /// <summary>Sorts <paramref name="order"/> (positions into the keys <paramref name="rank"/> holds) stably.</summary>
    public static void Sort<TRank>(Span<int> order, scoped in TRank rank)
        where TRank : ICandidateRank, allows ref struct
    {
        for (var i = 1; i < order.Length; i++)
        {
            var position = order[i];
            var j = i - 1;
            while (j >= 0 && rank.Before(position, order[j]))
            {
                order[j + 1] = order[j];
                j--;
            }

            order[j + 1] = position;
        }
    }

    /// <summary>Moves the candidates into <paramref name="order"/>, one store per candidate that moves. Leaves
    /// <paramref name="order"/> as the identity.</summary>
    public static void Apply(Span<IProviderClient> candidates, Span<int> order)
    {
        for (var start = 0; start < order.Length; start++)
        {
            if (order[start] == start)
            {
                continue; // in place, or already moved with an earlier cycle
            }

            // Follow the cycle through start: each position takes the candidate from the position it names.
            var held = candidates[start];
            var k = start;
            while (true)
            {
                var from = order[k];
                order[k] = k;
                if (from == start)
                {
                    candidates[k] = held;
                    break;
                }

                candidates[k] = candidates[from];
                k = from;
            }
        }
    }

    /// <summary>The median of a few values; sorts them.</summary>
    public static double Median(Span<double> values)
    {
        if (values.IsEmpty)
        {
            return 0;
        }

        // An insertion sort: for the handful of latencies a request has, cheaper than a quickselect (measured).
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

        var middle = values.Length / 2;
        return values.Length % 2 == 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
    }
}
