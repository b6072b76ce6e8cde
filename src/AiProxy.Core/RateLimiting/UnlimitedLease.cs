namespace AiProxy.RateLimiting;

/// <summary>The lease of a request with no limit to check: nothing held, nothing to report.</summary>
internal sealed class UnlimitedLease : ProxyRateLimitLease
{
    public static readonly UnlimitedLease Instance = new();

    private UnlimitedLease()
    {
    }

    public override bool IsAcquired => true;

    public override ProxyRateLimitReason Reason => ProxyRateLimitReason.None;

    public override TimeSpan RetryAfter => TimeSpan.Zero;

    public override ProxyRateLimitWindow? Requests => null;

    public override ProxyRateLimitWindow? Tokens => null;

    public override bool HasProviderCapacity(string provider) => true;

    public override void OnProviderSelected(string provider)
    {
    }

    public override ValueTask SettleAsync(string? provider, long? actualTokens, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public override ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
