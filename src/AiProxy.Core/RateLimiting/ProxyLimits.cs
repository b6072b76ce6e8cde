namespace AiProxy.RateLimiting;

/// <summary>The limits of one caller or provider. A <see langword="null"/> limit means no limit.</summary>
/// <param name="RequestsPerMinute">Requests started per one-minute window.</param>
/// <param name="TokensPerMinute">Tokens (prompt plus completion) per one-minute window.</param>
/// <param name="MaxConcurrentRequests">Requests in flight at once.</param>
public readonly record struct ProxyLimits(int? RequestsPerMinute = null, int? TokensPerMinute = null, int? MaxConcurrentRequests = null)
{
    /// <summary>No limit at all.</summary>
    public static ProxyLimits None => default;

    /// <summary>None of the three limits is set.</summary>
    public bool IsUnlimited => RequestsPerMinute is null && TokensPerMinute is null && MaxConcurrentRequests is null;

    /// <summary>The limits of <paramref name="options"/>.</summary>
    /// <param name="options">Options such as <see cref="OpenAiProxyOptions.DefaultLimits"/>.</param>
    public static ProxyLimits From(RateLimitOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new(options.RequestsPerMinute, options.TokensPerMinute, options.MaxConcurrentRequests);
    }
}
