using AiProxy.Forwarding;

namespace AiProxy.RateLimiting;

/// <summary>
/// The tokens a request is assumed to use until its real usage is known: a quarter of its body's bytes for the prompt
/// (the usual ratio of English text and JSON), plus the completion it may produce: <c>max_completion_tokens</c>, else
/// <c>max_tokens</c>, times <c>n</c>. A request that sets no maximum reserves only its prompt and settles the rest afterwards.
/// </summary>
internal static class RequestTokenEstimate
{
    private const long MaxChoices = 128;

    /// <summary>The largest estimate: far above any real limit, far below where window arithmetic could overflow.</summary>
    internal const long MaxEstimate = 1L << 50;

    /// <summary>The prompt's share: a quarter of the body's bytes, rounded up.</summary>
    public static long PromptTokens(int bodyLength) => (Math.Max(0, bodyLength) + 3L) / 4;

    public static long Estimate(int bodyLength, in RequestInspection inspection)
    {
        var prompt = PromptTokens(bodyLength);
        var completion = Math.Max(0, inspection.MaxCompletionTokens ?? inspection.MaxTokens ?? 0);
        var choices = Math.Clamp(inspection.N ?? 1, 1, MaxChoices);

        // Saturate rather than overflow on absurd inputs; such a request is refused by any limit anyway.
        var total = completion > (MaxEstimate - prompt) / choices ? MaxEstimate : prompt + (completion * choices);
        return Math.Min(total, MaxEstimate);
    }
}
