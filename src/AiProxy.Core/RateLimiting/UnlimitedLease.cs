namespace AiProxy.RateLimiting;

/// <summary>The lease of a request with no limit to check: nothing held, nothing to report.</summary>
internal sealed class UnlimitedLease : AcquiredProxyRateLimitLease
{
    public static readonly UnlimitedLease Instance = new();

    private UnlimitedLease()
        : base(null, null)
    {
    }

    public override bool HasProviderCapacity(string provider) => true;

    public override void OnProviderSelected(string provider)
    {
    }

    public override ValueTask SettleAsync(string? provider, long? actualTokens, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public override ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
