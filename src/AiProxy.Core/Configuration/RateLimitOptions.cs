namespace AiProxy;

/// <summary>The three limits of a caller, as <see cref="OpenAiProxyOptions.DefaultLimits"/>. Unset means no limit.</summary>
public sealed class RateLimitOptions
{
    /// <summary>Requests per minute (a fixed one-minute window that opens with its first request).</summary>
    public int? RequestsPerMinute { get; set; }

    /// <summary>Tokens (prompt plus completion) per minute; reserved as an estimate, settled with the reported usage.</summary>
    public int? TokensPerMinute { get; set; }

    /// <summary>Requests in flight at once, until their responses are complete.</summary>
    public int? MaxConcurrentRequests { get; set; }
}
