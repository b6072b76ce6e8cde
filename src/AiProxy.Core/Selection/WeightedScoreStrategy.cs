using System.Buffers;
using AiProxy.Providers;

namespace AiProxy.Selection;

/// <summary>
/// <c>weighted_score</c>: score = Weight x success-rate^2 / (1 + latency / median latency) / (1 + in-flight).
/// A provider with no measurement counts as success rate 1 and the median latency. The first pick is
/// weighted-random by score (uniform when every score is 0); the fallbacks follow by score, highest first.
/// </summary>
internal sealed class WeightedScoreStrategy(SelectionRandom random) : ISelectionStrategy
{
    public string Name => SelectionStrategyNames.WeightedScore;

    public void Order(string model, Span<IProviderClient> candidates)
    {
        var n = candidates.Length;
        if (n <= 1)
        {
            return;
        }

        FailoverStrategy.SortByPriority(candidates);
        double[]? rented = null;
        var buffer = n <= CandidateSort.StackLimit ? stackalloc double[n * 3] : (rented = ArrayPool<double>.Shared.Rent(n * 3));
        try
        {
            var scores = buffer[..n];
            var latencies = buffer.Slice(n, n);
            var sorted = buffer.Slice(2 * n, n);
            ComputeScores(candidates, scores, latencies, sorted);

            var first = PickWeighted(scores);
            (candidates[0], candidates[first]) = (candidates[first], candidates[0]);
            (scores[0], scores[first]) = (scores[first], scores[0]);

            // Fallbacks by score descending, failover order among equals.
            CandidateSort.SortByDescending(candidates[1..], scores[1..]);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<double>.Shared.Return(rented);
            }
        }
    }

    /// <summary>Scores per DESIGN §4, written into <paramref name="scores"/>.</summary>
    internal static void ComputeScores(ReadOnlySpan<IProviderClient> candidates, Span<double> scores, Span<double> latencies, Span<double> scratch)
    {
        var measured = 0;
        long epoch = 0;
        for (var i = 0; i < candidates.Length; i++)
        {
            var view = CandidateView.Of(candidates[i], ref epoch);
            latencies[i] = view.LatencyTicks;
            scores[i] = view.SuccessRate; // kept here until the median is known
            if (latencies[i] >= 0)
            {
                scratch[measured++] = latencies[i];
            }
        }

        var median = Median(scratch[..measured]);
        for (var i = 0; i < candidates.Length; i++)
        {
            var provider = candidates[i];
            var successRate = scores[i];
            var latencyRatio = latencies[i] < 0 || median <= 0 ? 1.0 : latencies[i] / median;
            var score = provider.Weight * successRate * successRate / (1 + latencyRatio) / (1 + provider.InFlight);
            scores[i] = double.IsFinite(score) && score > 0 ? score : 0;
        }
    }

    private int PickWeighted(ReadOnlySpan<double> scores)
    {
        var total = 0.0;
        foreach (var score in scores)
        {
            total += score;
        }

        if (total <= 0)
        {
            return random.Random.Next(scores.Length);
        }

        var target = random.Random.NextDouble() * total;
        for (var i = 0; i < scores.Length; i++)
        {
            target -= scores[i];
            if (target < 0)
            {
                return i;
            }
        }

        // Rounding left a sliver: the last provider with a score.
        for (var i = scores.Length - 1; i >= 0; i--)
        {
            if (scores[i] > 0)
            {
                return i;
            }
        }

        return 0;
    }

    private static double Median(Span<double> values)
    {
        if (values.IsEmpty)
        {
            return 0;
        }

        CandidateSort.Sort(values);
        var middle = values.Length / 2;
        return values.Length % 2 == 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
    }
}
