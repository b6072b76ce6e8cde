using AiProxy.Pricing;
using AiProxy.Providers;

namespace AiProxy.Selection;

/// <summary>
/// <c>lowest_cost</c>: the cheapest candidate for the request first, by the price of its model at each provider (the model
/// name sent there, after mapping): prompt estimate x input price + completion limit x output price. Providers with no price
/// for the model come last. Equal costs (and the unpriced among themselves) are ordered by <c>weighted_score</c>, highest
/// first, then failover order. Health, capacity, budgets and panic are applied by the selector before, as for the others.
/// Without a request (the public <see cref="IClientSelector"/>), one prompt and one completion token are priced.
/// </summary>
internal sealed class LowestCostStrategy : IRequestAwareStrategy
{
    // Looked up on first use: the options validator lists the strategies, and prices are read through the options.
    private readonly Lazy<RequestPricing> _pricing;

    public LowestCostStrategy(RequestPricing pricing) => _pricing = new(pricing);

    public LowestCostStrategy(Func<RequestPricing> pricing) => _pricing = new(pricing);

    public string Name => SelectionStrategyNames.LowestCost;

    public void Order(string model, Span<IProviderClient> candidates) => Order(model, candidates, 1, 1);

    public void Order(string model, Span<IProviderClient> candidates, in SelectionContext context)
        => Order(model, candidates, context.PromptTokens, context.CompletionTokens);

    private void Order(string model, Span<IProviderClient> candidates, long prompt, long completion)
    {
        var n = candidates.Length;
        if (n <= 1)
        {
            return;
        }

        var pricing = _pricing.Value;
        if (prompt <= 0 && completion <= 0)
        {
            (prompt, completion) = (1, 1);
        }

        var costs = n <= CandidateSort.StackLimit ? stackalloc decimal[n] : new decimal[n];
        var priced = n <= CandidateSort.StackLimit ? stackalloc bool[n] : new bool[n];
        for (var i = 0; i < n; i++)
        {
            ModelPrice price = default;
            priced[i] = model.Length > 0 && pricing.TryGetPrice(candidates[i].Name, model, out price);
            costs[i] = priced[i] ? price.Cost(prompt, 0, completion) : 0;
        }

        var scores = n <= CandidateSort.StackLimit ? stackalloc double[n] : new double[n];
        var latencies = n <= CandidateSort.StackLimit ? stackalloc double[n] : new double[n];
        var scratch = n <= CandidateSort.StackLimit ? stackalloc double[n] : new double[n];
        var order = n <= CandidateSort.StackLimit ? stackalloc int[n] : new int[n];
        WeightedScoreStrategy.ComputeScores(candidates, scores, latencies, scratch, order); // order: in-flight scratch here

        CandidateSort.Identity(order);
        CandidateSort.Sort(order, new Rank(candidates, priced, costs, scores));
        CandidateSort.Apply(candidates, order);
    }

    /// <summary>Priced before unpriced, cheaper first, then the higher weighted score, then failover order.</summary>
    private readonly ref struct Rank(
        ReadOnlySpan<IProviderClient> candidates, ReadOnlySpan<bool> priced, ReadOnlySpan<decimal> costs, ReadOnlySpan<double> scores) : ICandidateRank
    {
        private readonly ReadOnlySpan<IProviderClient> _candidates = candidates;
        private readonly ReadOnlySpan<bool> _priced = priced;
        private readonly ReadOnlySpan<decimal> _costs = costs;
        private readonly ReadOnlySpan<double> _scores = scores;

        public bool Before(int a, int b)
        {
            if (_priced[a] != _priced[b])
            {
                return _priced[a];
            }

            if (_costs[a] != _costs[b])
            {
                return _costs[a] < _costs[b];
            }

            if (_scores[a] != _scores[b])
            {
                return _scores[a] > _scores[b];
            }

            return FailoverStrategy.Compare(_candidates[a], _candidates[b]) < 0;
        }
    }
}
