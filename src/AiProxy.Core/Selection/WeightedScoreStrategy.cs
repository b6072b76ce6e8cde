using System.Buffers;
using AiProxy.Providers;

namespace AiProxy.Selection;

/// <summary>
/// <c>weighted_score</c>: score = Weight x success-rate^2 / (1 + latency / median latency) / (1 + in-flight).
/// A provider with no measurement counts as success rate 1 and the median latency. The first pick is
/// weighted-random by score (uniform when every score is 0); the fallbacks follow by score, highest first.
/// </summary>
internal sealed class WeightedScoreStrategy(SelectionRandom random) : IFirstChoiceStrategy
{
    public string Name => SelectionStrategyNames.WeightedScore;

    public void Order(string model, Span<IProviderClient> candidates) => Order(candidates, Part.Whole);

    public void OrderFirst(string model, Span<IProviderClient> candidates) => Order(candidates, Part.First);

    public void OrderFallbacks(string model, Span<IProviderClient> candidates) => Order(candidates, Part.Fallbacks);

    /// <summary>Scores per DESIGN §4, written into <paramref name="scores"/>.</summary>
    internal static void ComputeScores(ReadOnlySpan<IProviderClient> candidates, Span<double> scores, Span<double> latencies, Span<double> scratch)
        => ComputeScores(candidates, scores, latencies, scratch, new int[candidates.Length]);

    /// <summary>Scores per DESIGN §4, written into <paramref name="scores"/>; <paramref name="scratch"/> ends holding their
    /// running totals, for the draw. Reads each candidate once.</summary>
    /// <returns>Whether the candidates came in failover order.</returns>
    internal static bool ComputeScores(
        ReadOnlySpan<IProviderClient> candidates, Span<double> scores, Span<double> latencies, Span<double> scratch, Span<int> inFlight)
    {
        var n = candidates.Length;
        var measured = 0;
        var reader = new CandidateReader();
        for (var i = 0; i < n; i++)
        {
            var provider = candidates[i];
            var view = reader.Read(provider);
            var successRate = view.SuccessRate;
            var weight = provider is ProviderClient client ? client.Weight : provider.Weight;
            scores[i] = weight * successRate * successRate; // the score's start, until the median latency is known
            inFlight[i] = view.InFlight;
            latencies[i] = view.LatencyTicks;
            if (latencies[i] >= 0)
            {
                scratch[measured++] = latencies[i];
            }
        }

        // The formula with two divisions fewer per candidate (a reciprocal of the median, one denominator): divisions are
        // most of what scoring costs. The same numbers but for rounding in the last bits.
        var median = CandidateSort.Median(scratch[..measured]);
        var perMedian = median > 0 ? 1 / median : 0;
        var runningTotal = 0.0;
        for (var i = 0; i < n; i++)
        {
            var latencyRatio = latencies[i] < 0 || median <= 0 ? 1.0 : latencies[i] * perMedian;
            var score = scores[i] / ((1 + latencyRatio) * (1 + inFlight[i]));
            scores[i] = double.IsFinite(score) && score > 0 ? score : 0;
            runningTotal += scores[i];
            scratch[i] = runningTotal;
        }

        return reader.InFailoverOrder;
    }

    private void Order(Span<IProviderClient> candidates, Part part)
    {
        var n = candidates.Length;
        if (n <= (part == Part.Fallbacks ? 2 : 1))
        {
            return; // nothing to choose between
        }

        double[]? rented = null;
        int[]? rentedPositions = null;
        var buffer = n <= CandidateSort.StackLimit ? stackalloc double[n * 3] : (rented = ArrayPool<double>.Shared.Rent(n * 3));
        var positions = n <= CandidateSort.StackLimit ? stackalloc int[n * 2] : (rentedPositions = ArrayPool<int>.Shared.Rent(n * 2));
        try
        {
            var scores = buffer[..n];
            var latencies = buffer.Slice(n, n);
            var scratch = buffer.Slice(2 * n, n);
            var inFlight = positions.Slice(n, n);
            var order = positions[..n];
            if (part == Part.Fallbacks)
            {
                // As the candidates are: the first stays where OrderFirst put it.
                ComputeScores(candidates, scores, latencies, scratch, inFlight);
                OrderByScore(candidates, scores, order, first: 0);
                return;
            }

            if (!ComputeScores(candidates, scores, latencies, scratch, inFlight) && FailoverStrategy.SortByPriority(candidates))
            {
                ComputeScores(candidates, scores, latencies, scratch, inFlight); // they were not in failover order: read them again in it
            }

            var first = PickWeighted(scores, runningTotals: scratch);
            if (part == Part.First)
            {
                (candidates[0], candidates[first]) = (candidates[first], candidates[0]);
            }
            else
            {
                OrderByScore(candidates, scores, order, first);
            }
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<double>.Shared.Return(rented);
                ArrayPool<int>.Shared.Return(rentedPositions!);
            }
        }
    }

    /// <summary>The candidate at <paramref name="first"/> goes first and the one at 0 takes its place (a swap); then the
    /// rest by score descending, in that order among equals.</summary>
    private static void OrderByScore(Span<IProviderClient> candidates, ReadOnlySpan<double> scores, Span<int> order, int first)
    {
        CandidateSort.Identity(order);
        order[0] = first;
        order[first] = 0;
        CandidateSort.Sort(order[1..], new Rank(scores));
        CandidateSort.Apply(candidates, order);
    }

    private int PickWeighted(ReadOnlySpan<double> scores, ReadOnlySpan<double> runningTotals)
    {
        var total = runningTotals[^1];
        if (total <= 0)
        {
            return random.Random.Next(scores.Length);
        }

        // The first whose running total passes the target: counted rather than searched for, which leaves no branch to
        // mispredict (the same draw as subtracting score after score from the target, but for rounding).
        var target = random.Random.NextDouble() * total;
        var first = 0;
        foreach (var runningTotal in runningTotals)
        {
            first += runningTotal <= target ? 1 : 0;
        }

        if (first < scores.Length)
        {
            return first;
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

    /// <summary>Which part of the order a call computes.</summary>
    private enum Part
    {
        Whole,
        First,
        Fallbacks,
    }

    /// <summary>Higher score first.</summary>
    private readonly ref struct Rank(ReadOnlySpan<double> scores) : ICandidateRank
    {
        private readonly ReadOnlySpan<double> _scores = scores;

        public bool Before(int a, int b) => _scores[a] > _scores[b];
    }
}
