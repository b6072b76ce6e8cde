using AiProxy.Attempts;
using AiProxy.RateLimiting;
using AiProxy.Requests;
using AiProxy.Usage;

namespace AiProxy.Pipeline;

/// <summary>The settle and report stages' arithmetic: the tokens a request used, what settles its reservation, and its usage record.</summary>
internal static class ProxyUsageMeasure
{
    /// <summary>The tokens a request used: as reported, or for a stream that ended without a usage chunk, estimated.</summary>
    public static TokenUsage? Measure(ProxyRequest request, ForwardResult result)
    {
        var usage = result.Usage;
        if (usage.HasUsage)
        {
            return new TokenUsage(usage.PromptTokens, usage.CompletionTokens, usage.TotalTokens, IsEstimate: false)
            {
                CachedInputTokens = usage.CachedPromptTokens,
                CacheWriteTokens = usage.CacheWriteTokens,
            };
        }

        if (result.IsEventStream)
        {
            // A stream that ended without a usage chunk: about one token per content event, the prompt as estimated.
            var prompt = RequestTokenEstimate.PromptTokens(request.Body.Length);
            long completion = usage.DataEvents;
            return new TokenUsage(prompt, completion, prompt + completion, IsEstimate: true);
        }

        return null;
    }

    /// <summary>What settles the token reservation: nothing used when no provider answered or it refused the request
    /// (a relayed 4xx), the usage when known, else <see langword="null"/> so the estimate stands.</summary>
    public static long? TokensToSettle(ForwardResult result, TokenUsage? tokens)
    {
        if (result.Response is not { } response || !UpstreamStatus.IsSuccess((int)response.StatusCode))
        {
            return 0;
        }

        return tokens?.TotalTokens;
    }
}
