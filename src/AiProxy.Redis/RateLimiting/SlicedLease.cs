using AiProxy.RateLimiting;

namespace AiProxy.Redis.RateLimiting;

/// <summary>
/// A request admitted from slices under quota leasing (<see cref="QuotaSlices"/>): the caller's request and estimated
/// tokens were spent from its slice; an attempt spends its provider's request and estimate from that provider's slice
/// (or, when the slice ran short meanwhile, charges them in Redis: the upstream sees the request anyway); settling
/// corrects the tokens in the slices (a refund stays in the slice, an overrun it cannot cover is charged in Redis).
/// Nothing here waits for Redis, and there are no slots to release.
/// </summary>
internal sealed class SlicedLease(
    QuotaSlices owner, ProxyRateLimitRequest request, long estimate, QuotaSlice? caller, QuotaSlice.Spent spent, bool[]? full)
    : AcquiredProxyRateLimitLease(spent.RequestsWindow, spent.TokensWindow)
{
    private List<Attempt>? _attempts;
    private int _settled;

    public override bool HasProviderCapacity(string provider)
        => full is null || request.IndexOfProvider(provider) is not (var index and >= 0) || !full[index];

    public override void OnProviderSelected(string provider)
    {
        var index = request.IndexOfProvider(provider);
        if (Volatile.Read(ref _settled) != 0 || index < 0 || request.Providers[index].Limits.IsUnlimited)
        {
            return;
        }

        var target = request.Providers[index];
        var slice = owner.Slice(owner.ProviderWindows(target.Provider));
        if (slice.TrySpend(target.Limits, estimate, out var taken))
        {
            (_attempts ??= []).Add(new Attempt(index, slice, taken.TokenStart));
            return;
        }

        ChargeInRedis(target, estimate);
        (_attempts ??= []).Add(new Attempt(index, null, -1));
    }

    /// <summary>Charges a request and <paramref name="tokens"/> at a provider in Redis, past its capacity if need be.</summary>
    private void ChargeInRedis(ProxyProviderCapacity target, long tokens)
    {
        var windows = owner.ProviderWindows(target.Provider);
        if (target.Limits.RequestsPerMinute is not null)
        {
            owner.Charge(new FinishOperation(FinishOperation.ChargeRequest, windows, 0, 0));
        }

        if (target.Limits.TokensPerMinute is not null && tokens > 0)
        {
            owner.Charge(new FinishOperation(FinishOperation.ChargeTokens, windows, tokens, 0));
        }
    }

    /// <summary>
    /// Corrects the reservations with the real usage, as exact mode does: the caller's and the answering attempt's by the
    /// difference, every other attempt's estimate refunded; a provider that answered without an attempt is charged now.
    /// </summary>
    public override ValueTask SettleAsync(string? provider, long? actualTokens, CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _settled, 1) != 0 || actualTokens is not { } reported)
        {
            return ValueTask.CompletedTask; // settled already, or every reservation stands
        }

        var actual = Math.Max(0, reported);
        var delta = actual - estimate;
        if (caller is not null && request.Limits.TokensPerMinute is not null && delta != 0)
        {
            owner.Adjust(caller, spent.TokenStart, delta);
        }

        var answered = false;
        for (var i = (_attempts?.Count ?? 0) - 1; i >= 0; i--)
        {
            var attempt = _attempts![i];
            var target = request.Providers[attempt.Index];
            var answeredHere = !answered && string.Equals(provider, target.Provider, StringComparison.OrdinalIgnoreCase);
            answered |= answeredHere;
            var correction = answeredHere ? delta : -estimate;
            if (attempt.Slice is { } slice && target.Limits.TokensPerMinute is not null && correction != 0)
            {
                owner.Adjust(slice, attempt.TokenStart, correction);
            }
        }

        if (!answered && provider is not null && request.IndexOfProvider(provider) is var index and >= 0 && !request.Providers[index].Limits.IsUnlimited)
        {
            ChargeInRedis(request.Providers[index], actual);
        }

        return ValueTask.CompletedTask;
    }

    public override ValueTask DisposeAsync() => ValueTask.CompletedTask;

    /// <summary>One attempt: its candidate, the slice it spent from (none: charged in Redis) and its token window.</summary>
    private readonly record struct Attempt(int Index, QuotaSlice? Slice, long TokenStart);
}
