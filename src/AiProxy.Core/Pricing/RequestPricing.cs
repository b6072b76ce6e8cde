using AiProxy.Attempts;
using AiProxy.Providers;
using AiProxy.RateLimiting;
using AiProxy.Requests;
using AiProxy.Usage;

namespace AiProxy.Pricing;

/// <summary>What requests cost: the worst case before one is sent (for budgets and <c>lowest_cost</c>), the real cost after.</summary>
internal sealed class RequestPricing(IModelPriceProvider prices, ProviderModelMapper mapper)
{
    /// <summary>Whether any price is known: otherwise nothing is priced and no cost header is added.</summary>
    public bool IsEnabled => prices.IsEnabled;

    /// <summary>The price of <paramref name="model"/> at <paramref name="provider"/>, by the model name it is sent as there.</summary>
    public bool TryGetPrice(string provider, string model, out ModelPrice price)
        => prices.TryGetPrice(provider, mapper.Map(provider, model).ProviderModel ?? model, out price);

    /// <summary>A request's token estimate split into its prompt (a quarter of a JSON body's bytes) and its completion.</summary>
    public static (long Prompt, long Completion) Split(ProxyRequest request, long estimate)
    {
        var prompt = Math.Min(request.Inspection.IsJson ? RequestTokenEstimate.PromptTokens(request.Body.Length) : 0, estimate);
        return (prompt, estimate - prompt);
    }

    /// <summary>The most a request can cost at <paramref name="provider"/>: its prompt estimate at the input price plus its
    /// completion limit (or the default completion) at the output price; 0 when the model has no price there.</summary>
    /// <param name="provider">The candidate.</param>
    /// <param name="request">The request.</param>
    /// <param name="estimate">Its token estimate (<see cref="RequestTokenEstimate"/>): prompt plus completion.</param>
    public decimal WorstCase(IProviderClient provider, ProxyRequest request, long estimate)
    {
        if (request.Inspection.Model is not { } model || !TryGetPrice(provider.Name, model, out var price))
        {
            return 0;
        }

        // The cache may be cheaper, never dearer, in the worst case: all of the prompt at the full input price.
        var (prompt, completion) = Split(request, estimate);
        return price.Cost(prompt, 0, completion);
    }

    /// <summary>The real cost of a request that <paramref name="result"/>'s provider answered with <paramref name="usage"/>:
    /// <see langword="null"/> when no price is known for its model there (counted as unpriced), 0 when nothing was used.</summary>
    public decimal? Actual(ProxyRequest request, ForwardResult result, TokenUsage? usage)
    {
        if (result.Provider is not { } provider || !UpstreamStatus.IsSuccess(result.Response is { } r ? (int)r.StatusCode : 0))
        {
            return 0; // no provider answered, or it refused: nothing to pay
        }

        var model = result.ProviderModel ?? request.Inspection.Model;
        if (model is null || !prices.TryGetPrice(provider.Name, model, out var price))
        {
            return null;
        }

        if (usage is null)
        {
            return 0;
        }

        // The usage's prompt counts the cache writes; the price counts them apart, at the cache-write price.
        var prompt = Math.Max(0, usage.InputTokens ?? 0);
        var writes = Math.Clamp(usage.CacheWriteTokens ?? 0, 0, prompt);
        return price.Cost(prompt - writes, usage.CachedInputTokens ?? 0, usage.OutputTokens ?? 0, writes);
    }
}
