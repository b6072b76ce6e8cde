
using AiProxy.Requests;

namespace AiProxy.RateLimiting;

/// <summary>
/// The tokens a request is assumed to use until its real usage is known: a quarter of its body's bytes for the prompt
/// (the usual ratio of English text and JSON), plus the completion it may produce: <c>max_completion_tokens</c>, else
/// <c>max_tokens</c>, else <c>max_output_tokens</c>, else <c>DefaultCompletionTokens</c>, times <c>n</c>. A request that
/// sets no maximum still reserves a completion, so omitting <c>max_tokens</c> does not overspend a tokens-per-minute limit.
/// A body that is not text (audio, images, files) says nothing about its tokens by its size: it reserves the default
/// completion only, so a large upload is not refused forever under a tokens-per-minute limit.
/// </summary>
internal static class RequestTokenEstimate
{
    private const long MaxChoices = 128;

    /// <summary>The largest estimate: far above any real limit, far below where window arithmetic could overflow.</summary>
    internal const long MaxEstimate = 1L << 50;

    /// <summary>The prompt's share: a quarter of the body's bytes, rounded up.</summary>
    public static long PromptTokens(int bodyLength) => (Math.Max(0, bodyLength) + 3L) / 4;

    /// <param name="bodyLength">The request body's length in bytes.</param>
    /// <param name="inspection">What the JSON body says (<see cref="RequestInspection.None"/> for other bodies).</param>
    /// <param name="defaultCompletionTokens">The completion reserved when the request sets no maximum.</param>
    /// <param name="isText">The body is JSON text; <see langword="false"/> for multipart and other binary bodies.</param>
    public static long Estimate(int bodyLength, in RequestInspection inspection, int defaultCompletionTokens, bool isText = true)
    {
        var prompt = isText ? PromptTokens(bodyLength) : 0;
        var completion = Math.Max(0, inspection.MaxCompletionTokens ?? inspection.MaxTokens ?? inspection.MaxOutputTokens ?? defaultCompletionTokens);
        var choices = Math.Clamp(inspection.N ?? 1, 1, MaxChoices);

        // Saturate rather than overflow on absurd inputs; such a request is refused by any limit anyway.
        var total = completion > (MaxEstimate - prompt) / choices ? MaxEstimate : prompt + (completion * choices);
        return Math.Min(total, MaxEstimate);
    }

    /// <summary>Whether <paramref name="inspection"/> sets a completion maximum itself.</summary>
    public static bool HasCompletionLimit(in RequestInspection inspection)
        => inspection.MaxCompletionTokens is not null || inspection.MaxTokens is not null || inspection.MaxOutputTokens is not null;
}
