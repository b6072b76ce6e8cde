namespace AiProxy.FakeUpstream;

/// <summary><c>POST /v1/messages/count_tokens</c>, Anthropic's token count: <c>{"input_tokens":n}</c> with the fake's
/// deterministic stand-in for tokenization (a quarter of the body's bytes, at least one), so a test can tell it from an
/// estimate of the gateway's own.</summary>
internal static class CountTokensEndpoint
{
    public static Task HandleAsync(FakeExchange exchange)
        => exchange.WriteJsonAsync(200, json =>
        {
            json.WriteStartObject();
            json.WriteNumber("input_tokens", Math.Max(1, exchange.Request.Body.Length / 4));
            json.WriteEndObject();
        });
}
