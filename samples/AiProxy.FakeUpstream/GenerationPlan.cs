namespace AiProxy.FakeUpstream;

/// <summary>What a chat or legacy completion answer is made of: the parsed request, how many words and why it ends,
/// the usage it reports, its id and creation time. Shared by both endpoints.</summary>
internal readonly record struct GenerationPlan(GenerationRequest Request, int Words, string FinishReason, Usage Usage, string Id, long Created)
{
    /// <summary>Parses the exchange's body and plans the answer; writes the real API's 400 and returns null when the
    /// body is not a valid request.</summary>
    public static async Task<GenerationPlan?> StartAsync(FakeExchange exchange, string idPrefix)
    {
        GenerationRequest? request = GenerationRequest.Parse(exchange.Request.Body, out string? error);
        if (request is null)
        {
            await exchange.WriteInvalidRequestAsync(error!);
            return null;
        }

        (int words, string finishReason) = request.Plan(exchange.Behavior.ChunkCount);
        var usage = new Usage(request.PromptTokens, words * request.Choices);
        return new GenerationPlan(request, words, finishReason, usage, idPrefix + Guid.NewGuid().ToString("N"), FakeExchange.UnixNow());
    }
}
