namespace AiProxy.RateLimiting;

/// <summary>A refused request: why, when to retry, and the caller's windows for the response headers. Holds nothing.</summary>
internal sealed class RejectedLease(ProxyRateLimitReason reason, TimeSpan retryAfter, ProxyRateLimitWindow? requests, ProxyRateLimitWindow? tokens)
    : ProxyRateLimitLease
{
    public override bool IsAcquired => false;

    public override ProxyRateLimitReason Reason { get; } = reason;

    public override TimeSpan RetryAfter { get; } = retryAfter;

    public override ProxyRateLimitWindow? Requests { get; } = requests;

    public override ProxyRateLimitWindow? Tokens { get; } = tokens;

    public override bool HasProviderCapacity(string provider) => false;

    public override void OnProviderSelected(string provider)
    {
    }

    public override ValueTask SettleAsync(string? provider, long? actualTokens, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public override ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
