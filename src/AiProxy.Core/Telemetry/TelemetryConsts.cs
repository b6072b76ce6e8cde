namespace AiProxy.Telemetry;

/// <summary>
/// Names of the gateway's meter, activity source, instruments and tags. OpenTelemetry GenAI names where they fit
/// (<c>gen_ai.*</c>); the gateway's own under <c>aiproxy.*</c>. Every tag value is bounded: provider and token
/// names come from configuration, model names pass <see cref="ModelTagResolver"/>.
/// </summary>
internal static class TelemetryConsts
{
    /// <summary>The name of both the <c>Meter</c> and the <c>ActivitySource</c>.</summary>
    public const string Name = "AiProxy";

    /// <summary>Tag value for a model name no provider or mapping knows, and for an unknown endpoint.</summary>
    public const string Other = "_other";

    public const string SecondsUnit = "s";
    public const string TokensUnit = "{token}";

    public static class GenAI
    {
        public const string OperationDuration = "gen_ai.client.operation.duration";
        public const string TokenUsage = "gen_ai.client.token.usage";

        public const string OperationName = "gen_ai.operation.name";
        public const string ProviderName = "gen_ai.provider.name";
        public const string RequestModel = "gen_ai.request.model";
        public const string ResponseModel = "gen_ai.response.model";
        public const string TokenType = "gen_ai.token.type";
        public const string UsageInputTokens = "gen_ai.usage.input_tokens";
        public const string UsageOutputTokens = "gen_ai.usage.output_tokens";

        public const string TokenTypeInput = "input";
        public const string TokenTypeOutput = "output";

        public const string OperationChat = "chat";
        public const string OperationTextCompletion = "text_completion";
        public const string OperationEmbeddings = "embeddings";
    }

    public static class Proxy
    {
        public const string Requests = "aiproxy.requests";
        public const string RequestDuration = "aiproxy.request.duration";
        public const string TimeToFirstChunk = "aiproxy.time_to_first_chunk";
        public const string Overhead = "aiproxy.overhead";
        public const string Attempts = "aiproxy.attempts";
        public const string Fallbacks = "aiproxy.fallbacks";
        public const string ActiveRequests = "aiproxy.active_requests";
        public const string RateLimited = "aiproxy.rate_limited";
        public const string Cost = "aiproxy.cost";
        public const string Unpriced = "aiproxy.cost.unpriced";
        public const string ProviderState = "aiproxy.provider.state";

        public const string Caller = "aiproxy.caller";
        public const string Outcome = "aiproxy.outcome";
        public const string Stream = "aiproxy.stream";
        public const string AttemptOutcome = "aiproxy.attempt.outcome";
        public const string Attempt = "aiproxy.attempt";
        public const string AttemptCount = "aiproxy.attempts";
        public const string FallbackFrom = "aiproxy.fallback.from";
        public const string FallbackTo = "aiproxy.fallback.to";
        public const string RateLimitScope = "aiproxy.rate_limit.scope";
        public const string State = "aiproxy.provider.state";
        public const string Route = "aiproxy.route";

        public const string RequestActivity = "aiproxy.request";
        public const string RateLimitedEvent = "aiproxy.rate_limited";

        /// <summary>The <see cref="Outcome"/> tag value of a request's outcome.</summary>
        public static string OutcomeName(Usage.ProxyRequestOutcome outcome) => outcome switch
        {
            Usage.ProxyRequestOutcome.Completed => "completed",
            Usage.ProxyRequestOutcome.Failed => "failed",
            Usage.ProxyRequestOutcome.ClientDisconnected => "client_disconnected",
            Usage.ProxyRequestOutcome.CacheHit => "cache_hit",
            Usage.ProxyRequestOutcome.UpstreamBroken => "upstream_broken",
            _ => Other,
        };

        /// <summary>The <see cref="RateLimitScope"/> tag value of a refusal's reason.</summary>
        public static string RateLimitScopeName(RateLimiting.ProxyRateLimitReason reason) => reason switch
        {
            RateLimiting.ProxyRateLimitReason.Requests => "requests",
            RateLimiting.ProxyRateLimitReason.Tokens => "tokens",
            RateLimiting.ProxyRateLimitReason.ConcurrentRequests => "concurrent_requests",
            RateLimiting.ProxyRateLimitReason.ProviderCapacity => "provider_capacity",
            RateLimiting.ProxyRateLimitReason.Unavailable => "unavailable",
            _ => Other,
        };

        /// <summary>The <see cref="RateLimitScope"/> tag value of a refusal because a cost budget is spent.</summary>
        public const string BudgetLimit = "budget";
    }

    public static class Common
    {
        public const string ErrorType = "error.type";
        public const string HttpStatusCode = "http.response.status_code";
    }
}
