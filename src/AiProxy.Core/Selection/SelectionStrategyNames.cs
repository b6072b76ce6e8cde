namespace AiProxy.Selection;

/// <summary>Names of the built-in selection strategies, as used in <c>DefaultStrategy</c> and <c>X-Proxy-Strategy</c>.</summary>
public static class SelectionStrategyNames
{
    /// <summary>By <c>Priority</c> ascending, then by name.</summary>
    public const string Failover = "failover";

    /// <summary>Deterministic rotation over the candidates, per model.</summary>
    public const string RoundRobin = "round_robin";

    /// <summary>Uniform shuffle.</summary>
    public const string Random = "random";

    /// <summary>Fewest requests in flight, then fewest requests in the last 60 seconds.</summary>
    public const string LeastUsed = "least_used";

    /// <summary>Lowest latency (time to first byte), success rate breaking ties; unmeasured providers first, to explore.</summary>
    public const string BestPerformance = "best_performance";

    /// <summary>Weight x success-rate^2 / (1 + latency/median) / (1 + in-flight): the first pick weighted-random by score,
    /// the fallbacks by score descending. The default.</summary>
    public const string WeightedScore = "weighted_score";

    /// <summary>The cheapest candidate for the request by the configured prices (prompt estimate x input + completion limit
    /// x output), unpriced providers last, ties by <see cref="WeightedScore"/>.</summary>
    public const string LowestCost = "lowest_cost";
}
